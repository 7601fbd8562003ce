"""Reference and shadow models: who trains on what, and training them through the model cache."""

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from joblib import Parallel, delayed
from threadpoolctl import threadpool_limits

from audit_core.core.seeding import derive_seed
from audit_core.data import Split
from audit_core.targets import Target
from audit_core.training.cache import ModelCache, cache_key
from audit_core.training.kinds import ModelKind
from audit_core.training.trainers import PROCESS_WORKERS


@dataclass(frozen=True)
class TrainingGroup:
    """Models that train together, as plain data that pickles to a worker: a pool of records, the records
    each model trains on (a row of ``in_mask``), each model's seed, and what kind of model to train."""

    role: str
    indices: tuple[int, ...]  # the models' positions among all models of the role
    features: np.ndarray
    labels: np.ndarray
    in_mask: np.ndarray  # (models, records) booleans
    seeds: tuple[int, ...]
    models: ModelKind

    @property
    def label(self) -> str:
        """``<role>-<first>-<last>`` model index, e.g. ``reference-0-15``."""
        return f"{self.role}-{self.indices[0]}-{self.indices[-1]}"


def complementary_in_masks(n_points: int, n_models: int, rng: np.random.Generator) -> np.ndarray:
    """IN/OUT masks ``(n_models, n_points)`` in complementary pairs: models ``2j`` and ``2j + 1`` split a
    fresh random permutation of the points in half, so every point is IN for exactly half of the models."""
    if n_models % 2:
        raise ValueError(f"reference models come in complementary pairs; got an odd count {n_models}.")
    masks = np.zeros((n_models, n_points), dtype=bool)
    for pair in range(n_models // 2):
        order = rng.permutation(n_points)
        masks[2 * pair, order[: n_points // 2]] = True
        masks[2 * pair + 1, order[n_points // 2 :]] = True
    return masks


def train_group(group: TrainingGroup) -> list[Any]:
    """Train a group's models; return them as their kind trains them (torch weights as numpy arrays)."""
    sets = [(group.features[mask], group.labels[mask]) for mask in group.in_mask]
    return group.models.train(sets, list(group.seeds))


GroupsFor = Callable[[int], list[TrainingGroup]]  # slots -> the groups to train
GroupRunner = Callable[[GroupsFor], Iterable[tuple[TrainingGroup, list[Any]]]]


def train_here(groups_for: GroupsFor) -> Iterator[tuple[TrainingGroup, list[Any]]]:
    """Train the groups in this process, one after another."""
    for group in groups_for(1):
        yield group, train_group(group)


def train_in_threads(groups_for: GroupsFor) -> Iterator[tuple[TrainingGroup, list[Any]]]:
    """Train the groups side by side in joblib's threads, one group per CPU, each model on one BLAS thread
    (no worker to start: scikit-learn's fitting releases the GIL), yielding them in order."""
    groups = groups_for(PROCESS_WORKERS)
    with threadpool_limits(1):
        jobs = Parallel(n_jobs=min(PROCESS_WORKERS, len(groups)), prefer="threads", return_as="generator")
        yield from zip(groups, jobs(delayed(train_group)(group) for group in groups), strict=True)


def model_keys(
    models: ModelKind, pool: Split, in_mask: np.ndarray, *, role: str, seeds: list[int], data: str
) -> list[str]:
    """The model cache's key of each model: what determines it (its kind's key, the data's fingerprint,
    its role, index, seed and training records), never the target's weights."""
    kind = models.key()
    return [
        cache_key(
            {
                "data": data,
                **kind,
                "role": role,
                "index": index,
                "seed": seeds[index],
                "training_ids": cache_key({"ids": pool.ids[mask].tolist()}),
            }
        )
        for index, mask in enumerate(in_mask)
    ]


def train_models(
    pool: Split,
    in_mask: np.ndarray,
    *,
    role: str,
    models: ModelKind,
    seed: int,
    data_fingerprint: str,
    cache: ModelCache,
    run_groups: GroupRunner | None = None,
    on_model_done: Callable[[int, int], None] | None = None,
) -> list[Target]:
    """Train (or load from ``cache``) one model of kind ``models`` per row of ``in_mask`` on the ``pool``
    records it marks, each with its own derived seed.

    ``run_groups(groups_for)`` trains the groups ``groups_for(slots)`` returns (``slots``: how many groups
    it trains at once) and yields each with its trained models as it finishes: Prefect tasks on a Dask
    cluster in ``flows/training.py``; by default :func:`train_in_threads` for kinds that pay for it, else
    :func:`train_here` (also for kinds whose models do not pickle). Every finished group is cached at once,
    so an interrupted run loses at most the groups in progress. ``on_model_done(done, total)`` reports
    progress, first with the cached models.
    """
    n_models = len(in_mask)
    if n_models == 0:
        return []
    seeds = [derive_seed(seed, role, str(index)) for index in range(n_models)]
    keys = model_keys(models, pool, in_mask, role=role, seeds=seeds, data=data_fingerprint)
    targets = [models.load(cache, key) for key in keys]
    missing = [i for i, target in enumerate(targets) if target is None]
    report = on_model_done or (lambda done, total: None)
    report(n_models - len(missing), n_models)
    if not missing:
        return targets
    if run_groups is None or not models.portable:
        run_groups = train_in_threads if models.parallel_here and models.portable else train_here

    def groups_for(slots: int) -> list[TrainingGroup]:
        size = models.group_size(len(missing), slots)
        chunks = [missing[start : start + size] for start in range(0, len(missing), size)]
        return [
            TrainingGroup(
                role=role,
                indices=tuple(chunk),
                features=pool.features,
                labels=pool.labels,
                in_mask=in_mask[chunk],
                seeds=tuple(seeds[i] for i in chunk),
                models=models,
            )
            for chunk in chunks
        ]

    for group, trained in run_groups(groups_for):
        for index, model in zip(group.indices, trained, strict=True):
            targets[index] = models.store(cache, keys[index], model)
        report(sum(target is not None for target in targets), n_models)
    return targets

"""Reference and shadow models: who trains on what, and training them through the model cache."""

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from audit_core.config import TrainingRecipe
from audit_core.core.seeding import derive_seed
from audit_core.data import Split
from audit_core.targets import TorchTarget
from audit_core.training import build_model, train_classifier
from audit_core.training.batched import train_classifiers_batched
from audit_core.training.cache import ModelCache, cache_key
from audit_core.training.torch_trainer import one_thread

BATCH_OF_MODELS = 16  # models trained together by the batched trainer (and cached together)
PROCESS_WORKERS = max(1, os.cpu_count() or 1)


def _train_loop(
    sets: list, n_classes: int, recipe: TrainingRecipe, *, seeds: list[int], device: str
) -> list[nn.Module]:
    return [
        train_classifier(x, y, n_classes, recipe, seed=seed, device=device)
        for (x, y), seed in zip(sets, seeds, strict=True)
    ]


def _train_one_single_threaded(args: tuple) -> dict:
    (x, y), n_classes, recipe, seed, device = args
    with one_thread():
        return train_classifier(x, y, n_classes, recipe, seed=seed, device=device).state_dict()


def _train_in_processes(
    sets: list, n_classes: int, recipe: TrainingRecipe, *, seeds: list[int], device: str
) -> list[nn.Module]:
    """One model per worker process (spawned, one torch and one BLAS thread each); weights come back as
    state dicts."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(PROCESS_WORKERS, len(sets)), mp_context=context) as pool:
        states = list(
            pool.map(
                _train_one_single_threaded,
                [(s, n_classes, recipe, seed, device) for s, seed in zip(sets, seeds, strict=True)],
            )
        )
    models = []
    for (x, _), state, seed in zip(sets, states, seeds, strict=True):
        model = build_model(recipe, x[0].size, n_classes, seed=seed)
        model.load_state_dict(state)
        models.append(model.eval())
    return models


TRAINERS = {"batched": train_classifiers_batched, "loop": _train_loop, "processes": _train_in_processes}
StateArrays = dict[str, np.ndarray]  # one model's weights: state-dict name -> array


@dataclass(frozen=True)
class TrainingGroup:
    """Models that train together, as plain data that pickles to a worker: a pool of records, the records
    each model trains on (a row of ``in_mask``), each model's seed, and how to train."""

    role: str
    indices: tuple[int, ...]  # the models' positions among all models of the role
    features: np.ndarray
    labels: np.ndarray
    in_mask: np.ndarray  # (models, records) booleans
    seeds: tuple[int, ...]
    n_classes: int
    recipe: TrainingRecipe
    trainer: str
    device: str = "cpu"  # where the group trains: a resolved torch device

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


def train_group(group: TrainingGroup) -> list[StateArrays]:
    """Train a group's models with its trainer; return their weights as numpy arrays by state-dict name."""
    sets = [(group.features[mask], group.labels[mask]) for mask in group.in_mask]
    models = TRAINERS[group.trainer](
        sets, group.n_classes, group.recipe, seeds=list(group.seeds), device=group.device
    )
    return [{name: value.numpy() for name, value in model.state_dict().items()} for model in models]


GroupsFor = Callable[[int], list[TrainingGroup]]  # slots -> the groups to train
GroupRunner = Callable[[GroupsFor], Iterable[tuple[TrainingGroup, list[StateArrays]]]]


def train_here(groups_for: GroupsFor) -> Iterator[tuple[TrainingGroup, list[StateArrays]]]:
    """Train the groups in this process, one after another: the default ``run_groups`` of
    :func:`train_models`."""
    for group in groups_for(1):
        yield group, train_group(group)


def _group_size(trainer: str, n_models: int, slots: int) -> int:
    """Models per group: one for the loop trainer, else up to :data:`BATCH_OF_MODELS`, small enough that
    ``n_models`` make at least ``slots`` groups (so that every slot of a parallel runner gets work)."""
    return 1 if trainer == "loop" else max(1, min(BATCH_OF_MODELS, -(-n_models // max(slots, 1))))


def train_models(
    pool: Split,
    in_mask: np.ndarray,
    *,
    role: str,
    n_classes: int,
    recipe: TrainingRecipe,
    seed: int,
    fingerprints: dict[str, str],
    cache: ModelCache,
    trainer: str = "batched",
    device: str = "cpu",
    run_groups: GroupRunner = train_here,
    on_model_done: Callable[[int, int], None] | None = None,
) -> list[TorchTarget]:
    """Train (or load from ``cache``) one model per row of ``in_mask`` on the ``pool`` records it marks, each
    with its own derived seed.

    ``trainer`` names an entry of :data:`TRAINERS`: ``"batched"`` trains the missing models together in
    groups of up to :data:`BATCH_OF_MODELS`, ``"processes"`` in worker processes with one thread each,
    ``"loop"`` one after another; ``"processes"`` gives the loop's models exactly, ``"batched"`` up to
    float32 rounding (see :mod:`audit_core.training.batched`). ``run_groups(groups_for)`` trains the
    groups ``groups_for(slots)`` returns (``slots``: how many groups it trains at once) and yields each with
    its models' weights as it finishes: :func:`train_here` by default, Prefect tasks on a Dask cluster in
    ``flows/training.py``. Every finished group is cached at once, so an interrupted run loses at most the
    groups in progress. ``on_model_done(done, total)`` reports progress, first with the cached models.
    The models train and answer queries on ``device`` (a resolved torch device; it is not part of the cache
    key: a GPU gives the same models up to float32 rounding).
    """
    n_models = len(in_mask)
    if n_models == 0:
        return []
    seeds = [derive_seed(seed, role, str(index)) for index in range(n_models)]
    keys = [
        cache_key(
            {
                **fingerprints,
                "recipe": recipe.model_dump(mode="json"),
                "role": role,
                "index": index,
                "seed": seeds[index],
                "training_ids": cache_key({"ids": pool.ids[mask].tolist()}),
            }
        )
        for index, mask in enumerate(in_mask)
    ]

    def blank() -> nn.Module:  # a model to load weights into (cached or trained)
        return build_model(recipe, pool.width, n_classes, seed=0)

    modules = [cache.load(key, blank) for key in keys]
    missing = [i for i, module in enumerate(modules) if module is None]
    report = on_model_done or (lambda done, total: None)
    report(n_models - len(missing), n_models)
    if missing:

        def groups_for(slots: int) -> list[TrainingGroup]:
            size = _group_size(trainer, len(missing), slots)
            chunks = [missing[start : start + size] for start in range(0, len(missing), size)]
            return [
                TrainingGroup(
                    role=role,
                    indices=tuple(chunk),
                    features=pool.features,
                    labels=pool.labels,
                    in_mask=in_mask[chunk],
                    seeds=tuple(seeds[i] for i in chunk),
                    n_classes=n_classes,
                    recipe=recipe,
                    trainer=trainer,
                    device=device,
                )
                for chunk in chunks
            ]

        for group, weights in run_groups(groups_for):
            for index, state in zip(group.indices, weights, strict=True):
                module = blank()
                module.load_state_dict({name: torch.tensor(value) for name, value in state.items()})
                cache.store(keys[index], module.eval())
                modules[index] = module
            report(sum(module is not None for module in modules), n_models)
    return [TorchTarget(module).to(device) for module in modules]

"""Reference and shadow models: who trains on what, and training them through the model cache."""

from collections.abc import Callable

import numpy as np

from audit_core.config import TrainingRecipe
from audit_core.data import Split
from audit_core.seeding import derive_seed
from audit_core.targets import TorchTarget
from audit_core.training import build_model, train_classifier
from audit_core.training.batched import train_classifiers_batched
from audit_core.training.cache import ModelCache, cache_key

BATCH_OF_MODELS = 16  # models trained together by the batched trainer (and cached together)


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


def train_models(
    training_sets: list[Split],
    *,
    role: str,
    n_classes: int,
    recipe: TrainingRecipe,
    seed: int,
    fingerprints: dict[str, str],
    cache: ModelCache,
    trainer: str = "batched",
    on_model_done: Callable[[int, int], None] | None = None,
) -> list[TorchTarget]:
    """Train (or load from ``cache``) one model per training set, each with its own derived seed.

    ``trainer="batched"`` trains the missing models together in groups of :data:`BATCH_OF_MODELS`
    (identical results to ``"loop"``, one at a time); every finished group is cached at once, so an
    interrupted run loses at most one group. ``on_model_done(done, total)`` reports progress.
    """
    seeds = [derive_seed(seed, role, str(index)) for index in range(len(training_sets))]
    keys = [
        cache_key(
            {
                **fingerprints,
                "recipe": recipe.model_dump(mode="json"),
                "role": role,
                "index": index,
                "seed": seeds[index],
                "training_ids": cache_key({"ids": split.ids.tolist()}),
            }
        )
        for index, split in enumerate(training_sets)
    ]
    modules = [
        cache.load(key, lambda s=split: build_model(recipe, s.features.shape[1], n_classes))
        for key, split in zip(keys, training_sets, strict=True)
    ]
    missing = [i for i, module in enumerate(modules) if module is None]
    done = len(training_sets) - len(missing)
    group_size = BATCH_OF_MODELS if trainer == "batched" else 1
    for start in range(0, len(missing), group_size):
        group = missing[start : start + group_size]
        sets = [(training_sets[i].features, training_sets[i].labels) for i in group]
        if len(group) > 1:
            trained = train_classifiers_batched(sets, n_classes, recipe, seeds=[seeds[i] for i in group])
        else:
            trained = [train_classifier(*sets[0], n_classes, recipe, seed=seeds[group[0]])]
        for i, module in zip(group, trained, strict=True):
            cache.store(keys[i], module)
            modules[i] = module
        done += len(group)
        if on_model_done is not None:
            on_model_done(done, len(training_sets))
    return [TorchTarget(module) for module in modules]

"""Reference and shadow models: who trains on what, and training them through the model cache."""

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import torch
from torch import nn

from audit_core.config import TrainingRecipe
from audit_core.data import Split
from audit_core.seeding import derive_seed
from audit_core.targets import TorchTarget
from audit_core.training import build_model, train_classifier
from audit_core.training.batched import train_classifiers_batched
from audit_core.training.cache import ModelCache, cache_key

BATCH_OF_MODELS = 16  # models trained together by the batched trainer (and cached together)
PROCESS_WORKERS = max(1, os.cpu_count() or 1)


def _train_loop(sets: list, n_classes: int, recipe: TrainingRecipe, *, seeds: list[int]) -> list[nn.Module]:
    return [
        train_classifier(x, y, n_classes, recipe, seed=seed) for (x, y), seed in zip(sets, seeds, strict=True)
    ]


def _train_one_single_threaded(args: tuple) -> dict:
    torch.set_num_threads(1)
    (x, y), n_classes, recipe, seed = args
    return train_classifier(x, y, n_classes, recipe, seed=seed).state_dict()


def _train_in_processes(
    sets: list, n_classes: int, recipe: TrainingRecipe, *, seeds: list[int]
) -> list[nn.Module]:
    """One model per worker process (spawned, one torch thread each); weights come back as state dicts."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(PROCESS_WORKERS, len(sets)), mp_context=context) as pool:
        states = list(
            pool.map(
                _train_one_single_threaded,
                [(s, n_classes, recipe, seed) for s, seed in zip(sets, seeds, strict=True)],
            )
        )
    models = []
    for (x, _), state in zip(sets, states, strict=True):
        model = build_model(recipe, x[0].size, n_classes)
        model.load_state_dict(state)
        models.append(model.eval())
    return models


TRAINERS = {"batched": train_classifiers_batched, "loop": _train_loop, "processes": _train_in_processes}


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

    ``trainer`` names an entry of :data:`TRAINERS`: ``"batched"`` trains the missing models together in
    groups of :data:`BATCH_OF_MODELS`, ``"processes"`` in worker processes with one thread each, ``"loop"``
    one after another; all three give identical models. Every finished group is cached at once, so an
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
        cache.load(key, lambda s=split: build_model(recipe, s.width, n_classes))
        for key, split in zip(keys, training_sets, strict=True)
    ]
    missing = [i for i, module in enumerate(modules) if module is None]
    done = len(training_sets) - len(missing)
    group_size = 1 if trainer == "loop" else BATCH_OF_MODELS  # processes: one worker pool per group
    for start in range(0, len(missing), group_size):
        group = missing[start : start + group_size]
        sets = [(training_sets[i].features, training_sets[i].labels) for i in group]
        group_seeds = [seeds[i] for i in group]
        trained = TRAINERS[trainer](sets, n_classes, recipe, seeds=group_seeds)
        for i, module in zip(group, trained, strict=True):
            cache.store(keys[i], module)
            modules[i] = module
        done += len(group)
        if on_model_done is not None:
            on_model_done(done, len(training_sets))
    return [TorchTarget(module) for module in modules]

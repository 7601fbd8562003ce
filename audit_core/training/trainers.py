"""The recipe's torch trainers for many models: one after another, batched (vmap), or in worker processes."""

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

from torch import nn

from audit_core.config import TrainingRecipe
from audit_core.core.threads import one_thread
from audit_core.training import build_model, train_classifier
from audit_core.training.batched import train_classifiers_batched

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

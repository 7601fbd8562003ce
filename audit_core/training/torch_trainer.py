"""Trains a torch classifier from a TrainingRecipe, reproducibly from any thread: the batch order from its
own ``torch.Generator``, the initial weights (and a custom architecture's dropout) from torch's global
generator only under :func:`audit_core.core.torch_rng.seeded_global_rng`."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import torch
from threadpoolctl import threadpool_limits
from torch import nn

from audit_core.config import TrainingRecipe
from audit_core.core.torch_rng import seeded_global_rng
from audit_core.training.architectures import build_model, training_randomness


@contextmanager
def one_thread() -> Iterator[None]:
    """One torch thread and one BLAS/OpenMP thread inside the block, for a worker that owns one CPU slot;
    torch's thread count is restored after it."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            yield
    finally:
        torch.set_num_threads(before)


def train_classifier(
    features: np.ndarray,
    labels: np.ndarray,
    n_classes: int,
    recipe: TrainingRecipe,
    *,
    seed: int,
    device: str = "cpu",
    build: Callable[[], nn.Module] | None = None,
) -> nn.Module:
    """Train on ``(features, labels)`` with cross-entropy as ``recipe`` says, on ``device``; same seed, same
    weights, with any thread count: it trains on one thread, since torch splits a matrix product's sums
    differently over more threads (the batched trainer's products split over models, not sums). ``build()``
    makes the untrained network (by default the recipe's architecture), its weights drawn with ``seed``.
    Initialisation and batch order are drawn on the CPU whatever the device; the model comes back on the
    CPU."""
    x = torch.as_tensor(features, dtype=torch.float32).to(device)
    y = torch.as_tensor(labels, dtype=torch.int64).to(device)
    if build is None:
        model = build_model(recipe, x[0].numel(), n_classes, seed=seed)
    else:
        with seeded_global_rng(seed):
            model = build()
    model = model.to(device)
    shuffle = torch.Generator().manual_seed(seed)
    optimizer = optimizer_for(list(model.parameters()), recipe)
    randomness = training_randomness(recipe, seed) if build is None else seeded_global_rng(seed)
    with one_thread(), randomness:
        model.train()
        for _ in range(recipe.epochs):
            order = torch.randperm(len(y), generator=shuffle)
            for start in range(0, len(y), recipe.batch_size):
                batch = order[start : start + recipe.batch_size].to(device)
                optimizer.zero_grad()
                nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
                optimizer.step()
    return model.to("cpu").eval()


def optimizer_for(parameters: list[torch.Tensor], recipe: TrainingRecipe) -> torch.optim.Optimizer:
    """The recipe's optimizer over ``parameters``."""
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(
            parameters,
            lr=recipe.learning_rate,
            momentum=recipe.momentum,
            weight_decay=recipe.weight_decay,
            foreach=True,
        )
    # foreach: one multi-tensor kernel per step instead of a loop over tensors (same arithmetic per element)
    return torch.optim.Adam(
        parameters, lr=recipe.learning_rate, weight_decay=recipe.weight_decay, foreach=True
    )

"""Trains a torch classifier from a TrainingRecipe, reproducibly and without touching global RNG state."""

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from audit_core.config import TrainingRecipe
from audit_core.training.architectures import build_model


def train_classifier(
    features: np.ndarray,
    labels: np.ndarray,
    n_classes: int,
    recipe: TrainingRecipe,
    *,
    seed: int,
    build: Callable[[], nn.Module] | None = None,
) -> nn.Module:
    """Train on ``(features, labels)`` with cross-entropy as ``recipe`` says; same seed, same weights.
    ``build()`` makes the untrained network (by default the recipe's architecture)."""
    x = torch.as_tensor(features, dtype=torch.float32)
    y = torch.as_tensor(labels, dtype=torch.int64)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_model(recipe, x[0].numel(), n_classes) if build is None else build()
        shuffle = torch.Generator().manual_seed(seed)
        optimizer = optimizer_for(list(model.parameters()), recipe)
        model.train()
        for _ in range(recipe.epochs):
            order = torch.randperm(len(y), generator=shuffle)
            for start in range(0, len(y), recipe.batch_size):
                batch = order[start : start + recipe.batch_size]
                optimizer.zero_grad()
                nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
                optimizer.step()
    return model.eval()


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

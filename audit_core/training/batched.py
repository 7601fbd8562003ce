"""Trains many same-architecture torch models as one vectorised computation (``torch.func``).

The models' parameters are stacked along a new leading axis; every optimisation step runs all models'
forward and backward passes at once with ``vmap``. Each model keeps its own initialisation seed, its own
training set and its own mini-batch order, and Adam/SGD act elementwise, so the result equals training each
model alone with :func:`audit_core.training.torch_trainer.train_classifier`, up to floating-point rounding:
a layer's weight gradient is computed as the transpose of ``H^T G`` rather than as ``G^T H`` (nn.Linear's),
the same sums in another order. Where the BLAS rounds both alike the models are bitwise identical; elsewhere
(MKL with AVX-512, for one) they differ in the last float32 bits, and long training lets that round-off grow
(the demo's 200 epochs: the models' probabilities within 3e-3 of the loop models').
"""

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from audit_core.config import TrainingRecipe
from audit_core.training.architectures import build_model, training_randomness
from audit_core.training.torch_trainer import optimizer_for


def train_classifiers_batched(
    training_sets: Sequence[tuple[np.ndarray, np.ndarray]],
    n_classes: int,
    recipe: TrainingRecipe,
    *,
    seeds: Sequence[int],
) -> list[nn.Module]:
    """Train one model per ``(features, labels)`` set, all at once; sets of equal size share a batch."""
    models: list[nn.Module | None] = [None] * len(training_sets)
    sizes = sorted({len(labels) for _, labels in training_sets})
    for size in sizes:
        group = [i for i, (_, labels) in enumerate(training_sets) if len(labels) == size]
        trained = _train_group(
            [training_sets[i] for i in group], n_classes, recipe, [seeds[i] for i in group]
        )
        for i, model in zip(group, trained, strict=True):
            models[i] = model
    return models


def _train_group(
    training_sets: Sequence[tuple[np.ndarray, np.ndarray]],
    n_classes: int,
    recipe: TrainingRecipe,
    seeds: list[int],
) -> list[nn.Module]:
    # (R, n, d): records flattened to vectors, as the built-in MLP sees them
    x = torch.stack([torch.as_tensor(f, dtype=torch.float32).reshape(len(f), -1) for f, _ in training_sets])
    y = torch.stack([torch.as_tensor(lab, dtype=torch.int64) for _, lab in training_sets])  # (R, n)
    n_models, n_points = y.shape
    # the same initialisation as training alone with each seed
    models = [build_model(recipe, x.shape[2], n_classes, seed=seed) for seed in seeds]
    shufflers = [torch.Generator().manual_seed(seed) for seed in seeds]
    stacked = {
        name: nn.Parameter(torch.stack([dict(m.named_parameters())[name].detach() for m in models]))
        for name, _ in models[0].named_parameters()
    }
    buffers = {
        name: torch.stack([dict(m.named_buffers())[name] for m in models])
        for name, _ in models[0].named_buffers()
    }
    optimizer = optimizer_for(list(stacked.values()), recipe)
    batched_loss = _stacked_mlp_loss if recipe.architecture == "mlp" else _vmapped_loss(models[0])
    rows = torch.arange(n_models)[:, None]
    with training_randomness(recipe, seeds[0]):
        for _ in range(recipe.epochs):
            orders = torch.stack([torch.randperm(n_points, generator=g) for g in shufflers])  # (R, n)
            # one gather per epoch, then contiguous slices
            x_epoch, y_epoch = x[rows, orders], y[rows, orders]
            for start in range(0, n_points, recipe.batch_size):
                end = start + recipe.batch_size
                optimizer.zero_grad()
                batched_loss(stacked, buffers, x_epoch[:, start:end], y_epoch[:, start:end]).sum().backward()
                optimizer.step()
    return [_unstack(stacked, buffers, i, recipe, x.shape[2], n_classes) for i in range(n_models)]


def _vmapped_loss(example: nn.Module):
    """Per-model mean cross-entropy of any architecture, by ``vmap`` over a functional call of the module."""
    from torch.func import functional_call  # imported here: torch.func costs seconds to import

    template = example.to("meta")

    def loss_of_one(p: dict, b: dict, features: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return nn.functional.cross_entropy(functional_call(template, (p, b), (features,)), labels)

    return torch.vmap(loss_of_one)


def _stacked_mlp_loss(params: dict, buffers: dict, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-model mean cross-entropy of the built-in MLP (Linear/ReLU layers named 0, 2, 4, ...) with batched
    matrix products: much less overhead than ``vmap`` over a module for small networks."""
    n_layers = len(params) // 2
    h = x
    for layer in range(n_layers):
        weight, bias = params[f"{2 * layer}.weight"], params[f"{2 * layer}.bias"]
        h = torch.baddbmm(bias[:, None, :], h, weight.transpose(1, 2))
        if layer < n_layers - 1:
            h = torch.relu(h)
    losses = nn.functional.cross_entropy(h.flatten(0, 1), y.flatten(), reduction="none")
    return losses.view(y.shape).mean(dim=1)


def _unstack(
    stacked: dict, buffers: dict, index: int, recipe: TrainingRecipe, n_features: int, n_classes: int
) -> nn.Module:
    model = build_model(recipe, n_features, n_classes, seed=0)  # its weights are replaced at once
    state = {name: value[index].detach().clone() for name, value in {**stacked, **buffers}.items()}
    model.load_state_dict(state)
    return model.eval()

"""Trains many same-architecture torch models as one vectorised computation.

The built-in MLP trains as a *stack*: each layer's weights of all models in one zero-padded tensor, every
optimisation step one batched matrix product per layer for all models at once. The loop and processes
trainers train the MLP with this same code, one model to a stack, and the layout makes a model's arithmetic
independent of how many models share its stack, so every trainer gives bit-identical weights:

- every width (features, hidden units, classes) is padded with zeros to a multiple of :data:`ALIGN` floats,
  so each model's block of every tensor starts on the same boundary and has the same length whatever its
  place in the stack: the BLAS picks the same kernel for each model, and elementwise steps (Adam, SGD) treat
  each element with the same vector code. Padded weights get zero gradients and stay zero; padded classes are
  cut off before the loss;
- a mini-batch of one record gets a second, all-zero row that the loss ignores: the BLAS computes a one-row
  product by another kernel for one model than for a stack;
- training runs on one torch thread (more threads split the work at other boundaries).

Each model keeps its own initialisation seed, training set and mini-batch order. Another architecture (a
``package.module:factory`` in the recipe) trains by ``vmap`` over a functional call of the module, which
equals training each model alone up to float32 rounding.
"""

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch import nn

from audit_core.config import TrainingRecipe
from audit_core.core.threads import one_thread
from audit_core.training.architectures import build_model, training_randomness
from audit_core.training.optimization import optimizer_for

#: Floats every padded width is a multiple of: 64 (256 bytes) covers the widest vector loops (AVX-512, two or
#: four vectors per step) so that no model's elements fall into another code path than its neighbours'.
ALIGN = 64
#: Named in the model cache's key: models trained by an earlier arithmetic are trained again, not reused.
ARITHMETIC = f"stacked-mlp, widths padded to {ALIGN}, one-row batches padded to two, one thread"


def train_classifiers_batched(
    training_sets: Sequence[tuple[np.ndarray, np.ndarray]],
    n_classes: int,
    recipe: TrainingRecipe,
    *,
    seeds: Sequence[int],
    device: str = "cpu",
) -> list[nn.Module]:
    """Train one model per ``(features, labels)`` set, all at once on ``device``; sets of equal size share a
    stack. The models come back on the CPU."""
    models: list[nn.Module | None] = [None] * len(training_sets)
    train_group = train_mlp_stack if recipe.architecture == "mlp" else _train_vmapped
    for size in sorted({len(labels) for _, labels in training_sets}):
        group = [i for i, (_, labels) in enumerate(training_sets) if len(labels) == size]
        trained = train_group(
            [training_sets[i] for i in group], n_classes, recipe, [seeds[i] for i in group], device
        )
        for i, model in zip(group, trained, strict=True):
            models[i] = model
    return models


def _padded(width: int) -> int:
    return -(-width // ALIGN) * ALIGN


def _mini_batches(
    x: torch.Tensor, y: torch.Tensor, recipe: TrainingRecipe, seeds: Sequence[int]
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Every epoch's mini-batches ``(R, b, ...)``, ``(R, b)``: model ``i``'s rows of ``x``, ``y`` in the order
    its own seed shuffles them, one gather per epoch, then contiguous slices."""
    shufflers = [torch.Generator().manual_seed(seed) for seed in seeds]
    rows = torch.arange(len(seeds), device=x.device)[:, None]
    n_points = y.shape[1]
    for _ in range(recipe.epochs):
        orders = torch.stack([torch.randperm(n_points, generator=g) for g in shufflers]).to(x.device)
        x_epoch, y_epoch = x[rows, orders], y[rows, orders]
        for start in range(0, n_points, recipe.batch_size):
            batch = slice(start, start + recipe.batch_size)
            yield x_epoch[:, batch], y_epoch[:, batch]


def train_mlp_stack(
    training_sets: Sequence[tuple[np.ndarray, np.ndarray]],
    n_classes: int,
    recipe: TrainingRecipe,
    seeds: Sequence[int],
    device: str = "cpu",
) -> list[nn.Module]:
    """Train the recipe's MLP on each of ``training_sets`` (all of one size) as one stack; model ``i`` is the
    same, bit for bit, whichever other sets share its stack (none, for the loop trainer)."""
    n_features = int(np.prod(training_sets[0][0].shape[1:], dtype=int))
    widths = [n_features, *recipe.hidden_sizes, n_classes]
    padded = [_padded(w) for w in widths]
    x = torch.zeros(len(training_sets), len(training_sets[0][1]), padded[0])
    for i, (features, _) in enumerate(training_sets):
        x[i, :, :n_features] = torch.as_tensor(features, dtype=torch.float32).reshape(len(features), -1)
    y = torch.stack([torch.as_tensor(labels, dtype=torch.int64) for _, labels in training_sets])
    x, y = x.to(device), y.to(device)
    models = [build_model(recipe, n_features, n_classes, seed=seed) for seed in seeds]
    linears = [[m for m in model if isinstance(m, nn.Linear)] for model in models]
    stack = []
    for index in range(len(widths) - 1):
        weight = torch.zeros(len(models), padded[index + 1], padded[index])
        bias = torch.zeros(len(models), padded[index + 1])
        for i, layers in enumerate(linears):
            weight[i, : widths[index + 1], : widths[index]] = layers[index].weight.detach()
            bias[i, : widths[index + 1]] = layers[index].bias.detach()
        stack += [nn.Parameter(weight.to(device)), nn.Parameter(bias.to(device))]
    optimizer = optimizer_for(stack, recipe)
    with one_thread():
        for x_batch, y_batch in _mini_batches(x, y, recipe, seeds):
            optimizer.zero_grad()
            _stack_loss(stack, x_batch, y_batch, n_classes).sum().backward()
            optimizer.step()
    return [_unstacked(stack, i, models[i], widths) for i in range(len(models))]


def _stack_loss(stack: list[torch.Tensor], x: torch.Tensor, y: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Each model's mean cross-entropy on its mini-batch ``x`` ``(R, b, padded width)``, ``y`` ``(R, b)``."""
    batch = y.shape[1]
    if batch == 1:  # a second, ignored row: a one-row product would take another kernel for one model
        x, y = torch.cat([x, torch.zeros_like(x)], dim=1), torch.cat([y, torch.zeros_like(y)], dim=1)
    h = x
    for layer in range(0, len(stack), 2):
        h = torch.baddbmm(stack[layer + 1][:, None, :], h, stack[layer].transpose(1, 2))
        if layer + 2 < len(stack):
            h = torch.relu(h)
    logits = h[:, :, :n_classes].flatten(0, 1)
    losses = nn.functional.cross_entropy(logits, y.flatten(), reduction="none").view(y.shape)
    return losses[:, :batch].mean(dim=1)


def _unstacked(stack: list[torch.Tensor], index: int, model: nn.Module, widths: list[int]) -> nn.Module:
    """``model`` (an untrained MLP of the stack's shape) holding model ``index``'s trained weights."""
    linears = [m for m in model if isinstance(m, nn.Linear)]
    with torch.no_grad():
        for layer, linear in enumerate(linears):
            out, into = widths[layer + 1], widths[layer]
            linear.weight.copy_(stack[2 * layer][index, :out, :into])
            linear.bias.copy_(stack[2 * layer + 1][index, :out])
    return model.to("cpu").eval()


def _train_vmapped(
    training_sets: Sequence[tuple[np.ndarray, np.ndarray]],
    n_classes: int,
    recipe: TrainingRecipe,
    seeds: list[int],
    device: str,
) -> list[nn.Module]:
    """Train models of a user architecture together: parameters stacked, one ``vmap``-ed step for all."""
    from torch.func import functional_call  # imported here: torch.func costs seconds to import

    x = torch.stack([torch.as_tensor(f, dtype=torch.float32).reshape(len(f), -1) for f, _ in training_sets])
    y = torch.stack([torch.as_tensor(lab, dtype=torch.int64) for _, lab in training_sets])  # (R, n)
    x, y = x.to(device), y.to(device)
    models = [build_model(recipe, x.shape[2], n_classes, seed=seed) for seed in seeds]
    named = [dict(m.named_parameters()) for m in models]
    stacked = {
        name: nn.Parameter(torch.stack([n[name].detach() for n in named]).to(device)) for name in named[0]
    }
    buffers = {
        name: torch.stack([dict(m.named_buffers())[name] for m in models]).to(device)
        for name, _ in models[0].named_buffers()
    }
    optimizer = optimizer_for(list(stacked.values()), recipe)
    template = build_model(recipe, x.shape[2], n_classes, seed=0).to("meta")

    def loss_of_one(p: dict, b: dict, features: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return nn.functional.cross_entropy(functional_call(template, (p, b), (features,)), labels)

    batched_loss = torch.vmap(loss_of_one)
    with training_randomness(recipe, seeds[0]):
        for x_batch, y_batch in _mini_batches(x, y, recipe, seeds):
            optimizer.zero_grad()
            batched_loss(stacked, buffers, x_batch, y_batch).sum().backward()
            optimizer.step()
    state = {**stacked, **buffers}
    for i, model in enumerate(models):
        model.load_state_dict({name: value[i].detach().to("cpu").clone() for name, value in state.items()})
    return [model.eval() for model in models]

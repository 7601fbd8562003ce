"""Trains a torch classifier from a TrainingRecipe, reproducibly from any thread: the built-in MLP as a stack
of one (:mod:`audit_core.training.batched`, so every trainer gives the same weights), any other network as a
module; batch orders from their own ``torch.Generator``, initial weights (and a custom architecture's dropout)
from torch's global generator only under :func:`audit_core.core.torch_rng.seeded_global_rng`."""

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from audit_core.config import OutputKind, TorchInputType, TrainingRecipe
from audit_core.core.probability import PROBABILITY_FLOOR
from audit_core.core.threads import one_thread
from audit_core.core.torch_rng import seeded_global_rng
from audit_core.targets.torch_target import TORCH_TYPES, class_scores
from audit_core.training.architectures import build_model, training_randomness
from audit_core.training.batched import train_mlp_stack
from audit_core.training.optimization import optimizer_for


def classification_loss(outputs: torch.Tensor, labels: torch.Tensor, output: OutputKind) -> torch.Tensor:
    """Cross-entropy of a network's ``outputs``: logits, or probabilities (a softmax already applied, whose
    logarithm, floored as the audit floors it, is the log-likelihood)."""
    if output == "probabilities":
        return nn.functional.nll_loss(torch.log(outputs.clamp_min(PROBABILITY_FLOOR)), labels)
    return nn.functional.cross_entropy(outputs, labels)


def train_classifier(
    features: np.ndarray,
    labels: np.ndarray,
    n_classes: int,
    recipe: TrainingRecipe,
    *,
    seed: int,
    device: str = "cpu",
    build: Callable[[], nn.Module] | None = None,
    output: OutputKind = "logits",
    input_dtype: TorchInputType = "float32",
) -> nn.Module:
    """Train on ``(features, labels)`` with cross-entropy as ``recipe`` says, on ``device``; same seed, same
    weights, with any thread count: it trains on one thread, since torch splits a matrix product's sums
    differently over more threads. ``build()`` makes the untrained network (by default the recipe's
    architecture), its weights drawn with ``seed``; ``output`` says what the network returns (logits, or
    probabilities from a softmax of its own), ``input_dtype`` what it takes. Initialisation and batch order
    are drawn on the CPU whatever the device; the model comes back on the CPU. A network with batch norm
    leaves out an epoch's last batch when it holds one record (it cannot train on it: another record each
    epoch)."""
    if build is None and recipe.architecture == "mlp":
        return train_mlp_stack([(features, labels)], n_classes, recipe, [seed], device)[0]
    x = torch.as_tensor(features, dtype=TORCH_TYPES[input_dtype]).to(device)
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
    smallest = 2 if any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()) else 1
    with one_thread(), randomness:
        model.train()
        for _ in range(recipe.epochs):
            order = torch.randperm(len(y), generator=shuffle)
            for start in range(0, len(y), recipe.batch_size):
                batch = order[start : start + recipe.batch_size].to(device)
                if len(batch) < smallest:  # batch norm cannot train on one record: an epoch's last is left
                    continue
                optimizer.zero_grad()
                classification_loss(class_scores(model(x[batch])), y[batch], output).backward()
                optimizer.step()
    return model.to("cpu").eval()

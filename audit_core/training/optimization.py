"""What every torch trainer shares: the recipe's optimizer."""

import torch

from audit_core.config import TrainingRecipe


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

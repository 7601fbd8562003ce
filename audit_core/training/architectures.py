"""Model architectures a TrainingRecipe can name: the built-in MLP or a factory from the user's own code."""

import torch
from torch import nn

from audit_core.config import TrainingRecipe
from audit_core.imports import import_object


class MLP(nn.Sequential):
    """Linear layers with ReLUs between them, on records flattened to vectors (so images work too)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.flatten(1))


def build_model(recipe: TrainingRecipe, n_features: int, n_classes: int) -> nn.Module:
    """A freshly initialised model for ``recipe`` (uses torch's current random state); ``n_features`` counts
    the numbers in one record, images included."""
    if recipe.architecture != "mlp":
        return import_object(recipe.architecture, "recipe.architecture")(
            n_features=n_features, n_classes=n_classes
        )
    layers: list[nn.Module] = []
    width = n_features
    for hidden in recipe.hidden_sizes:
        layers += [nn.Linear(width, hidden), nn.ReLU()]
        width = hidden
    layers.append(nn.Linear(width, n_classes))
    return MLP(*layers)

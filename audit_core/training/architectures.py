"""Model architectures a TrainingRecipe can name."""

from torch import nn

from audit_core.config import TrainingRecipe


def build_model(recipe: TrainingRecipe, n_features: int, n_classes: int) -> nn.Module:
    """A freshly initialised model for ``recipe`` (uses torch's current random state)."""
    layers: list[nn.Module] = []
    width = n_features
    for hidden in recipe.hidden_sizes:
        layers += [nn.Linear(width, hidden), nn.ReLU()]
        width = hidden
    layers.append(nn.Linear(width, n_classes))
    return nn.Sequential(*layers)

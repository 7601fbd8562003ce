"""Model architectures a TrainingRecipe can name: the built-in MLP or a factory from the user's own code."""

import importlib

from torch import nn

from audit_core.config import TrainingRecipe
from audit_core.errors import ConfigError


def import_factory(path: str):
    """The object named by ``"package.module:attribute"``."""
    module_name, _, attribute = path.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise ConfigError(f"recipe.architecture '{path}' cannot be imported: {error}.") from None


def build_model(recipe: TrainingRecipe, n_features: int, n_classes: int) -> nn.Module:
    """A freshly initialised model for ``recipe`` (uses torch's current random state)."""
    if recipe.architecture != "mlp":
        return import_factory(recipe.architecture)(n_features=n_features, n_classes=n_classes)
    layers: list[nn.Module] = []
    width = n_features
    for hidden in recipe.hidden_sizes:
        layers += [nn.Linear(width, hidden), nn.ReLU()]
        width = hidden
    layers.append(nn.Linear(width, n_classes))
    return nn.Sequential(*layers)

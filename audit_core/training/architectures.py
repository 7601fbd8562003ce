"""Model architectures a TrainingRecipe can name: the built-in MLP or a factory from the user's own code."""

import math
from contextlib import AbstractContextManager, nullcontext

import torch
from torch import nn

from audit_core.config import TrainingRecipe
from audit_core.core.errors import ConfigError, brief
from audit_core.core.imports import import_object
from audit_core.core.torch_rng import seeded_global_rng
from audit_core.core.user_code import UserCodeError, call_user_code


class MLP(nn.Sequential):
    """Linear layers with ReLUs between them, on records flattened to vectors (so images work too)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.flatten(1))


def build_model(recipe: TrainingRecipe, n_features: int, n_classes: int, *, seed: int) -> nn.Module:
    """A freshly initialised model for ``recipe``, its initial weights drawn with ``seed`` (same seed, same
    weights, from any thread); ``n_features`` counts the numbers in one record, images included."""
    with seeded_global_rng(seed):
        return _new_model(recipe, n_features, n_classes)


def training_randomness(recipe: TrainingRecipe, seed: int) -> AbstractContextManager:
    """What a model of ``recipe`` trains inside: the built-in MLP draws nothing while it trains; another
    architecture's forward may (dropout), so it trains holding torch's global generator, seeded with
    ``seed``, and its training is as reproducible as its initialisation."""
    return nullcontext() if recipe.architecture == "mlp" else seeded_global_rng(seed)


def _new_model(recipe: TrainingRecipe, n_features: int, n_classes: int) -> nn.Module:
    if recipe.architecture != "mlp":
        factory = import_object(recipe.architecture, "recipe.architecture")
        try:
            return call_user_code(factory, n_features=n_features, n_classes=n_classes)
        except UserCodeError as failure:
            cause = failure.cause
            raise ConfigError(
                f"recipe.architecture: {recipe.architecture}(n_features={n_features}, n_classes={n_classes}) "
                f"raised {type(cause).__name__}: {brief(cause)}; expected it to build the network."
            ) from None
    layers: list[nn.Module] = []
    width = n_features
    for hidden in recipe.hidden_sizes:
        layers += [nn.Linear(width, hidden), nn.ReLU()]
        width = hidden
    layers.append(nn.Linear(width, n_classes))
    return MLP(*layers)


class SmallCNN(nn.Module):
    """The DynaNoise paper's model family (AlexNet: ReLU convolutions with max-pooling, then fully connected
    layers) scaled to what a CPU trains in minutes: two 3x3 convolution blocks and one hidden layer.

    Takes images ``(n, C, S, S)`` or the same records flattened, as the batched trainer passes them.
    """

    def __init__(
        self, channels: int, side: int, n_classes: int, widths: tuple[int, int] = (16, 32), hidden: int = 128
    ) -> None:
        super().__init__()
        self.shape = (channels, side, side)
        self.features = nn.Sequential(
            nn.Conv2d(channels, widths[0], 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(widths[0], widths[1], 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.AdaptiveAvgPool2d(CNN_GRID),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(widths[1] * CNN_GRID**2, hidden),
            nn.ReLU(),
            nn.Linear(hidden, n_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x.reshape(-1, *self.shape)))


CNN_GRID = 8  # the feature maps' side before the classifier: a 32x32 input's own after two poolings


def small_cnn(n_features: int, n_classes: int, channels: int = 3) -> nn.Module:
    """A :class:`SmallCNN` for square images of ``channels`` channels holding ``n_features`` numbers; name it
    in a recipe as ``audit_core.training.architectures:small_cnn``."""
    side = math.isqrt(n_features // channels)
    if channels * side * side != n_features or side < 4:
        raise ConfigError(
            f"recipe.architecture: small_cnn needs square images of {channels} channels and side >= 4, but "
            f"the records hold {n_features} numbers; expected {channels} x S x S."
        )
    return SmallCNN(channels, side, n_classes)

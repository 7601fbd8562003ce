"""How the target was trained (and so how dynaudit trains shadow and reference models)."""

from typing import Annotated, Literal

from pydantic import (
    Field,
)

from audit_core.config.base import StrictModel


class TrainingRecipe(StrictModel):
    """How the target was trained; shadow and reference models are trained the same way."""

    architecture: str = Field(
        "mlp",
        pattern=r"^(mlp|[A-Za-z_][\w.]*:[A-Za-z_]\w*)$",
        description="'mlp', or 'package.module:factory' with factory(n_features=, n_classes=) -> nn.Module "
        "(code you name in your own config is imported and run).",
    )
    hidden_sizes: tuple[Annotated[int, Field(ge=1, le=1_000_000)], ...] = Field(
        (256,), description="Widths of the MLP's hidden layers."
    )
    epochs: int = Field(200, ge=1, le=10_000, description="Passes over the training set.")
    batch_size: int = Field(32, ge=1, description="Mini-batch size.")
    optimizer: Literal["adam", "sgd"] = Field("adam", description="Optimizer.")
    learning_rate: float = Field(1e-3, gt=0, le=10, description="Learning rate.")
    momentum: float = Field(0.9, ge=0, lt=1, description="SGD momentum (ignored by Adam).")
    weight_decay: float = Field(0.0, ge=0, description="L2 penalty (0 trains a model that memorises).")

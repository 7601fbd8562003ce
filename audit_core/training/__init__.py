"""Training of targets (for the demo) and shadow/reference models, from a TrainingRecipe."""

from audit_core.training.architectures import build_model
from audit_core.training.torch_trainer import train_classifier

__all__ = ["build_model", "train_classifier"]

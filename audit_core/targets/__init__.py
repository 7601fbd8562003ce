"""Model adapters: inputs -> logits."""

from audit_core.targets.base import Target
from audit_core.targets.torch_target import TorchTarget

__all__ = ["Target", "TorchTarget"]

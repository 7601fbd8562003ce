"""Model adapters: audit records -> logits. ``open_target(config.target)`` for any file-based kind."""

from audit_core.targets.base import ModelTarget, Target, as_logits
from audit_core.targets.loading import OPENERS, open_target
from audit_core.targets.torch_target import TorchTarget

__all__ = ["OPENERS", "ModelTarget", "Target", "TorchTarget", "as_logits", "open_target"]

"""One registry from ``target.kind`` to the function that opens that kind of model file."""

from collections.abc import Callable
from typing import Any

from audit_core.targets.base import ModelTarget, Target
from audit_core.targets.callable import open_callable
from audit_core.targets.onnx import open_onnx
from audit_core.targets.predictions import open_predictions
from audit_core.targets.sklearn import open_sklearn
from audit_core.targets.torch_script import open_torch_script
from audit_core.targets.torch_state_dict import open_torch_state_dict

# The "trained" kind is not here: dynaudit trains that target itself (audit_core.audit.models.train_target).
OPENERS: dict[str, Callable[[Any], Target]] = {
    "torch_script": open_torch_script,
    "torch_state_dict": open_torch_state_dict,
    "sklearn": open_sklearn,
    "onnx": open_onnx,
    "callable": open_callable,
    "predictions": open_predictions,
}


def open_target(config: Any) -> Target:
    """The Target a file-based ``target`` config describes (any kind in :data:`OPENERS`); a model's calls
    bounded by ``target.timeout_s``."""
    target = OPENERS[config.kind](config)
    if isinstance(target, ModelTarget):
        target.timeout_s = config.timeout_s
    return target

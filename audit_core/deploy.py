"""Deprecated import path: the deployable defense moved to :mod:`audit_core.defenses.serving`."""

import warnings

from audit_core.defenses.serving import (
    PARAMS_FILE,
    DefendedModel,
    export_torchscript,
    load_params,
    load_torchscript,
    save_params,
)

warnings.warn(
    "audit_core.deploy is deprecated; import from audit_core.defenses.serving instead.",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = [
    "PARAMS_FILE",
    "DefendedModel",
    "export_torchscript",
    "load_params",
    "load_torchscript",
    "save_params",
]

"""A Python function as the target: any framework, any record type (e.g. text), returning logits per class.

The function is code the user names in their own config (``package.module:name``); dynaudit imports and
calls it on batches of records, exactly as the config says, and nothing else.
"""

import inspect
from collections.abc import Callable
from pathlib import Path

import numpy as np

from audit_core.config import CallableTargetConfig
from audit_core.core.files import sha256_file
from audit_core.core.imports import import_object
from audit_core.core.paths import existing_file
from audit_core.targets.base import ModelTarget, combined_digest


class CallableTarget(ModelTarget):
    """Calls ``function(batch)`` with a numpy array of records ``(n, ...)`` and reads an ``(n, k)`` array."""

    user_code = True

    def __init__(self, function: Callable[[np.ndarray], object], config: CallableTargetConfig, digest: str):
        super().__init__(
            source=f"target.function {config.function}",
            digest=digest,
            output=config.output,
            batch_size=config.batch_size,
        )
        self.function = function

    def predict(self, batch: np.ndarray) -> np.ndarray:
        return np.asarray(self.function(batch))


def source_file(function: Callable) -> Path | None:
    """The file that defines ``function``, or None (a built-in)."""
    try:
        name = inspect.getsourcefile(function)
    except TypeError:  # built-in functions have no source file
        return None
    return Path(name) if name else None


def open_callable(config: CallableTargetConfig) -> CallableTarget:
    """Import the function; the fingerprint covers its name, its module's source file and ``target.files``."""
    function = import_object(config.function, "target.function")
    files = [existing_file(p, "target.files", "a file the function reads") for p in config.files]
    source = source_file(function)
    code = [] if source is None else [sha256_file(source)]
    digest = combined_digest(config.function, *code, *(sha256_file(p) for p in files))
    return CallableTarget(function, config, digest)

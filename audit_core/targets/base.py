"""The Target contract: a model adapter from input rows to logits."""

from typing import Protocol

import numpy as np


class Target(Protocol):
    """Anything that returns logits ``(n, k)`` for feature rows ``(n, d)`` and can fingerprint itself."""

    def logits(self, features: np.ndarray) -> np.ndarray:
        """Float64 logits for each row."""
        ...

    def fingerprint(self) -> str:
        """A SHA-256 hex digest identifying the model's exact parameters."""
        ...

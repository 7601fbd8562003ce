"""Static Gaussian logit noise: the same variance for every query (the "static DP" comparator)."""

from dataclasses import dataclass

import numpy as np

from audit_core.core.probability import softmax
from audit_core.defenses.base import Defense, parameter, register_defense


@register_defense
@dataclass(frozen=True)
class StaticNoise(Defense):
    """Gaussian noise of fixed variance on the logits (the static-noise comparator).

    ``softmax(z + eps)`` with ``eps ~ N(0, sigma_sq I_k)``, fresh on every call.

    DynaNoise with ``lam = 0`` and ``T = 1`` is this defense; comparing the two isolates what the
    confidence-dependent variance and the smoothing buy.
    """

    sigma_sq: float = parameter(1.0, "Noise variance on the logits.", ge=0)

    name = "static_noise"
    GRID = tuple({"sigma_sq": s} for s in (0.1, 0.3, 1.0, 3.0, 10.0))

    @property
    def deterministic(self) -> bool:  # type: ignore[override]
        """Without noise (``sigma_sq = 0``) every answer is the softmax itself."""
        return self.sigma_sq == 0

    def apply(self, logits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        logits = np.asarray(logits, dtype=np.float64)
        return softmax(logits + np.sqrt(self.sigma_sq) * rng.standard_normal(logits.shape))

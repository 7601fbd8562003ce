"""Coarsened outputs: release only the top-k probabilities and/or round them to a few decimals."""

from dataclasses import dataclass

import numpy as np

from audit_core.core.probability import softmax
from audit_core.defenses.base import Defense, keep_top_unique, parameter, register_defense


def keep_top_k(probs: np.ndarray, k: int) -> np.ndarray:
    """Zero all but the ``k`` largest probabilities of each row and renormalise."""
    kept = np.zeros_like(probs)
    top = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    np.put_along_axis(kept, top, np.take_along_axis(probs, top, axis=1), axis=1)
    return kept / kept.sum(axis=1, keepdims=True)


def round_to_sum_one(probs: np.ndarray, decimals: int) -> np.ndarray:
    """Round each row to multiples of ``10**-decimals`` that still sum to one (largest-remainder method).

    Rounding never reorders classes; it can only tie them (:class:`TopKRounding` breaks a tie at the top).
    """
    units = 10**decimals
    scaled = probs * units
    floor = np.floor(scaled)
    missing = (units - floor.sum(axis=1)).round().astype(int)
    by_remainder = np.argsort(-(scaled - floor), axis=1, kind="stable")
    bump = np.arange(probs.shape[1])[None, :] < missing[:, None]
    np.put_along_axis(floor, by_remainder, np.take_along_axis(floor, by_remainder, axis=1) + bump, axis=1)
    return floor / units


@register_defense
@dataclass(frozen=True)
class TopKRounding(Defense):
    """Release the top-k probabilities only, optionally rounded.

    The ``k`` largest probabilities are kept (renormalised; ``None`` keeps all) and rounded to ``decimals``
    (``None``: no rounding). The model's label stays the released ``argmax``: where rounding ties another
    class with the top one, the top one is raised by one unit in the last place.
    """

    k: int | None = parameter(3, "Probabilities kept (null keeps all).", ge=1)
    decimals: int | None = parameter(None, "Decimals kept (null: no rounding).", ge=0, le=15)

    name = "top_k"
    deterministic = True
    preserves_label = True
    GRID = ({"k": 3}, {"k": 3, "decimals": 2}, {"k": 3, "decimals": 1}, {"k": None, "decimals": 1})

    def apply(self, logits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        probs = softmax(logits)
        if self.k is not None:
            probs = keep_top_k(probs, self.k)
        if self.decimals is not None:
            probs = keep_top_unique(round_to_sum_one(probs, self.decimals), logits.argmax(axis=1))
        return probs


@register_defense
@dataclass(frozen=True)
class LabelOnly(Defense):
    """Release only the predicted label (one-hot).

    Top-1 with nothing else.
    """

    name = "label_only"
    deterministic = True
    preserves_label = True

    def apply(self, logits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return keep_top_k(softmax(logits), 1)

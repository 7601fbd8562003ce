"""The Attack contract: ``Attack(**params).fit(calibration).score(outputs) -> scores`` (higher = member)."""

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Self

import numpy as np


@dataclass(frozen=True)
class AttackInput:
    """Released probability vectors ``(n, k)`` and the true labels ``(n,)`` of the queried points."""

    probs: np.ndarray
    labels: np.ndarray

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError`` unless the arrays form a batch of probability vectors with valid labels."""
        if self.probs.ndim != 2:
            raise ValueError(f"probs must be a 2-D array (n, k); got shape {self.probs.shape}.")
        if self.labels.shape != (self.probs.shape[0],):
            raise ValueError(f"labels must have shape ({self.probs.shape[0]},); got {self.labels.shape}.")
        if not np.all(np.isfinite(self.probs)):
            raise ValueError("probs contain NaN or infinite values.")
        if not np.allclose(self.probs.sum(axis=1), 1.0, atol=1e-6):
            raise ValueError("probs rows must sum to 1: pass probabilities, not logits.")
        if len(self.labels) and (self.labels.min() < 0 or self.labels.max() >= self.probs.shape[1]):
            raise ValueError(f"labels must lie in [0, {self.probs.shape[1] - 1}].")

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True)
class CalibrationData:
    """Outputs on points whose membership the attacker knows (e.g. a shadow model's in/out data)."""

    outputs: AttackInput
    is_member: np.ndarray

    def __post_init__(self) -> None:
        if self.is_member.shape != (len(self.outputs),) or self.is_member.dtype != bool:
            raise ValueError("is_member must be a boolean array with one entry per calibration output.")
        if self.is_member.all() or not self.is_member.any():
            raise ValueError("calibration data need both members and non-members.")


class Attack(ABC):
    """A membership-inference attack, in scikit-learn estimator style.

    ``__init__`` stores hyperparameters only; ``fit`` learns from calibration data and sets ``threshold_``
    (the decision threshold for ``predict``); ``score`` gives one membership score per queried point.
    """

    name: ClassVar[str]
    threshold_: float

    @abstractmethod
    def fit(self, calibration: CalibrationData) -> Self:
        """Learn the attack's state from outputs of known membership; returns ``self``."""

    @abstractmethod
    def score(self, outputs: AttackInput) -> np.ndarray:
        """One membership score per row of ``outputs``; larger means more likely a member."""

    def predict(self, outputs: AttackInput) -> np.ndarray:
        """Membership decisions at the calibrated threshold: ``score >= threshold_``."""
        return self.score(outputs) >= self.threshold_


ATTACKS: dict[str, type[Attack]] = {}


def register_attack(cls: type[Attack]) -> type[Attack]:
    """Class decorator adding an attack to the :data:`ATTACKS` registry under ``cls.name``."""
    ATTACKS[cls.name] = cls
    return cls

"""The Defense contract: logits in, probability vectors out, randomness from an explicit Generator."""

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np

from audit_core.probability import softmax


class Defense(ABC):
    """Maps a batch of logits ``(n, k)`` to released probability vectors ``(n, k)``.

    Attacks only ever see what ``apply`` returns, so the same attack code serves every condition.
    """

    name: ClassVar[str]
    deterministic: ClassVar[bool] = False  # True when repeating a query returns the identical answer

    @abstractmethod
    def apply(self, logits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Release defended probabilities for ``logits``; fresh randomness is drawn from ``rng``."""

    @property
    def label(self) -> str:
        """A human-readable condition name with the parameters, e.g. ``dynanoise(sigma0_sq=0.3, ...)``."""
        return self.name


DEFENSES: dict[str, type[Defense]] = {}


def register_defense(cls: type[Defense]) -> type[Defense]:
    """Class decorator adding a defense to the :data:`DEFENSES` registry under ``cls.name``."""
    DEFENSES[cls.name] = cls
    return cls


@register_defense
class Undefended(Defense):
    """The model's own softmax output: the baseline condition."""

    name = "undefended"
    deterministic = True

    def apply(self, logits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return softmax(logits)

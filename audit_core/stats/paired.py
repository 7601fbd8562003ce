"""A defense's accuracy drop, paired on the same test points: only the answers it changed carry information.

With ``lost`` test points answered right undefended and wrong defended, ``gained`` the reverse, of ``points``,
the drop is ``(lost - gained) / points``. Its bounds are exact and hold for any sample size: Clopper-Pearson
bounds on the rate of lost answers and on the rate of gained ones, each at half the error (Bonferroni), so a
drop seen as 0 on 14 test points is not taken for a drop known to be 0 (docs/statistics.md).
"""

from dataclasses import dataclass
from typing import Self

import numpy as np

from audit_core.stats.family import proportion_bounds
from audit_core.stats.metrics import Bounds, Estimate


@dataclass(frozen=True)
class PairedDrop:
    """How a defense changed the answers to the same test points, and the accuracy drop that follows.

    >>> drop = PairedDrop(lost=0, gained=0, points=14)
    >>> drop.value, round(drop.bounds(0.025).high, 3)
    (0.0, 0.269)
    """

    lost: int
    gained: int
    points: int

    def __post_init__(self) -> None:
        if self.points < 1 or min(self.lost, self.gained) < 0 or self.lost + self.gained > self.points:
            raise ValueError(
                f"a paired drop needs 0 <= lost + gained <= points and points >= 1; got {self.lost}, "
                f"{self.gained} of {self.points}."
            )

    @classmethod
    def of(cls, undefended_correct: np.ndarray, defended_correct: np.ndarray) -> Self:
        """The counts from each test point's right (True) or wrong answer without and with the defense."""
        before = np.asarray(undefended_correct, dtype=bool)
        after = np.asarray(defended_correct, dtype=bool)
        if before.shape != after.shape or before.ndim != 1 or before.size == 0:
            raise ValueError("a paired drop needs both answers for each of at least one test point.")
        return cls(int((before & ~after).sum()), int((~before & after).sum()), before.size)

    @property
    def value(self) -> float:
        """Undefended minus defended accuracy on the test points."""
        return (self.lost - self.gained) / self.points

    def bounds(self, error: float) -> Bounds:
        """One-sided lower and upper bounds on the true drop, each wrong with probability at most
        ``error``."""
        lost = proportion_bounds(self.lost, self.points, error / 2)
        gained = proportion_bounds(self.gained, self.points, error / 2)
        return Bounds(lost.low - gained.high, lost.high - gained.low)

    def estimate(self, level: float = 0.95) -> Estimate:
        """The drop with its two-sided interval at ``level``."""
        bounds = self.bounds((1 - level) / 2)
        return Estimate(self.value, bounds.low, bounds.high)

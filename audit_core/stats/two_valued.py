"""The AUC of an attack whose scores take at most two values (a label-only attack: right or wrong), with
exact bounds.

With ``a`` of ``m`` members and ``b`` of ``n`` non-members scored high (the larger of the two values; every
point when there is one value), the AUC with ties counted one half is ``(1 + a/m - b/n) / 2``, and the true
AUC is the same function of the two true rates. Clopper-Pearson bounds on each rate at half the error
(Bonferroni) bound it for any sample size, also where a rate is at 0 or 1 and a bootstrap's standard error is
too small (docs/statistics.md).
"""

from dataclasses import dataclass
from typing import Self

import numpy as np

from audit_core.stats.family import proportion_bounds
from audit_core.stats.metrics import Bounds, Estimate


@dataclass(frozen=True)
class TwoValuedScores:
    """How many members and non-members an attack with at most two score values scored high.

    >>> scores = TwoValuedScores(members_high=150, members=150, non_members_high=120, non_members=150)
    >>> bounds = scores.bounds(0.0125)
    >>> scores.auc, round(bounds.low, 3), round(bounds.high, 3)
    (0.6, 0.546, 0.647)
    """

    members_high: int
    members: int
    non_members_high: int
    non_members: int

    def __post_init__(self) -> None:
        if min(self.members, self.non_members) < 1 or not (
            0 <= self.members_high <= self.members and 0 <= self.non_members_high <= self.non_members
        ):
            raise ValueError(
                "two-valued scores need at least one member and one non-member, and as many scored high at "
                f"most; got {self.members_high} of {self.members}, {self.non_members_high} of "
                f"{self.non_members}."
            )

    @classmethod
    def of(cls, scores: np.ndarray, is_member: np.ndarray) -> Self | None:
        """The counts of ``scores`` (members where ``is_member``), or None when they take more than two
        values or any is NaN."""
        scores, is_member = np.asarray(scores, dtype=np.float64), np.asarray(is_member, dtype=bool)
        values = np.unique(scores)
        if len(values) > 2 or np.isnan(values).any():
            return None
        high = scores == values[-1]
        members_high, non_members_high = int(high[is_member].sum()), int(high[~is_member].sum())
        return cls(members_high, int(is_member.sum()), non_members_high, int((~is_member).sum()))

    @property
    def auc(self) -> float:
        """The AUC, ties counted one half."""
        return 0.5 * (1 + self.members_high / self.members - self.non_members_high / self.non_members)

    def bounds(self, error: float) -> Bounds:
        """One-sided lower and upper bounds on the true AUC, each wrong with probability at most ``error``."""
        members = proportion_bounds(self.members_high, self.members, error / 2)
        non_members = proportion_bounds(self.non_members_high, self.non_members, error / 2)
        return Bounds(0.5 * (1 + members.low - non_members.high), 0.5 * (1 + members.high - non_members.low))

    def estimate(self, level: float = 0.95) -> Estimate:
        """The AUC with its two-sided interval at ``level``."""
        bounds = self.bounds((1 - level) / 2)
        return Estimate(self.auc, bounds.low, bounds.high)

    def leaking_nothing(self) -> Self:
        """The counts of a model that leaks nothing at this attack's pooled rate of high scores."""
        rate = (self.members_high + self.non_members_high) / (self.members + self.non_members)
        members, non_members = self.members, self.non_members
        return type(self)(round(rate * members), members, round(rate * non_members), non_members)

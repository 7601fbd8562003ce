"""ROC-based membership metrics with confidence intervals.

Conventions: the positive class is *member*; a point is predicted a member when its score is ``>=`` the
threshold; intervals are two-sided at ``level`` (95% by default).
"""

from dataclasses import dataclass

import numpy as np
from scipy import stats
from sklearn.metrics import roc_curve


@dataclass(frozen=True)
class Estimate:
    """A point estimate with a confidence interval."""

    value: float
    ci_low: float
    ci_high: float


def _split(scores: np.ndarray, is_member: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    is_member = np.asarray(is_member, dtype=bool)
    if is_member.all() or not is_member.any():
        raise ValueError("membership metrics need at least one member and one non-member.")
    scores = np.asarray(scores, dtype=np.float64)
    return scores[is_member], scores[~is_member]


def _z(level: float) -> float:
    return float(stats.norm.ppf(0.5 + level / 2))


def roc_auc(scores: np.ndarray, is_member: np.ndarray, level: float = 0.95) -> Estimate:
    """Area under the ROC curve with DeLong's interval (ties count one half).

    >>> roc_auc(np.array([0.9, 0.8, 0.3, 0.1]), np.array([True, True, False, False])).value
    1.0
    """
    members, non_members = _split(scores, is_member)
    m, n = len(members), len(non_members)
    ranks = stats.rankdata(np.concatenate([members, non_members]))
    # Placements: the fraction of the other class each point beats (DeLong 1988, Sun & Xu 2014).
    member_placements = (ranks[:m] - stats.rankdata(members)) / n
    non_member_placements = 1.0 - (ranks[m:] - stats.rankdata(non_members)) / m
    auc = float(member_placements.mean())
    variance = 0.0
    if m > 1:
        variance += member_placements.var(ddof=1) / m
    if n > 1:
        variance += non_member_placements.var(ddof=1) / n
    half = _z(level) * np.sqrt(variance)
    return Estimate(auc, max(0.0, auc - half), min(1.0, auc + half))


def balanced_accuracy(predicted_member: np.ndarray, is_member: np.ndarray, level: float = 0.95) -> Estimate:
    """``(TPR + TNR) / 2`` of hard decisions, with a normal-approximation interval.

    The standard error uses add-one smoothed rates (as in Agresti-Caffo), so a rate of exactly 0 or 1 on a
    finite sample does not produce a zero-width interval.
    """
    hits_members, hits_non_members = _split(predicted_member, is_member)
    m, n = len(hits_members), len(hits_non_members)
    tpr, tnr = hits_members.mean(), 1.0 - hits_non_members.mean()
    value = float(0.5 * (tpr + tnr))
    tpr_s, tnr_s = (tpr * m + 1) / (m + 2), (tnr * n + 1) / (n + 2)
    se = 0.5 * np.sqrt(tpr_s * (1 - tpr_s) / (m + 2) + tnr_s * (1 - tnr_s) / (n + 2))
    half = _z(level) * se
    return Estimate(value, max(0.0, value - half), min(1.0, value + half))


def proportion(successes: np.ndarray, level: float = 0.95) -> Estimate:
    """The fraction of ``True`` in ``successes`` with a Wilson score interval (e.g. model accuracy)."""
    successes = np.asarray(successes, dtype=bool)
    if successes.size == 0:
        raise ValueError("a proportion needs at least one observation.")
    interval = stats.binomtest(int(successes.sum()), successes.size).proportion_ci(level, method="wilson")
    return Estimate(float(successes.mean()), float(interval.low), float(interval.high))


def best_balanced_accuracy_threshold(scores: np.ndarray, is_member: np.ndarray) -> float:
    """The threshold ``t`` for ``score >= t`` that maximises balanced accuracy (the highest among ties)."""
    _split(scores, is_member)
    fpr, tpr, thresholds = roc_curve(is_member, scores, drop_intermediate=False)
    return float(thresholds[int(np.argmax(tpr - fpr))])


def max_advantage(scores: np.ndarray, is_member: np.ndarray) -> float:
    """``max_t TPR - FPR`` over all thresholds on the evaluated points (an upper bound on the attacker)."""
    _split(scores, is_member)
    fpr, tpr, _ = roc_curve(is_member, scores)
    return float(np.max(tpr - fpr))

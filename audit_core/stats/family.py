"""Simultaneous bounds for a family of comparisons (the gate's multiplicity control).

The gate compares many values with their limits: every rule, attack, attacker knowledge and condition. Each
value gets a lower and an upper confidence bound that errs with probability at most ``error`` (one-sided);
with ``error = alpha / m`` for a family of ``m`` values, Bonferroni's inequality makes all lower bounds hold
together with probability at least ``1 - alpha``. (Holm's step-down procedure rejects the same first
hypothesis, so it fails exactly the same audits.) The ``null_*`` functions give the upper bound a model that
leaks nothing would typically reach: when it exceeds a limit, the audit is too small to resolve that limit.
Formulas: docs/statistics.md.
"""

import functools
import math
from dataclasses import dataclass

import numpy as np
from scipy import special, stats

from audit_core.stats.metrics import auc_score_interval, clopper_pearson


@dataclass(frozen=True)
class Bounds:
    """A one-sided lower and a one-sided upper confidence bound, each wrong with probability at most the
    error they were computed for."""

    low: float
    high: float


def z_quantile(error: float) -> float:
    """The standard normal quantile ``z`` with ``P(Z > z) = error``."""
    return float(stats.norm.isf(error))


def logit_auc_bounds(
    value: float, ci_low: float, ci_high: float, error: float, level: float = 0.95
) -> Bounds:
    """Bounds at ``error`` on an AUC from its two-sided interval at ``level`` (a bootstrap's: its width over
    ``2 z`` is the standard error), normal on the logit scale (delta method). An AUC's spread shrinks away
    from 0.5, so the standard error read at a high estimate is too small at its lower bound: on the AUC's own
    scale that bound erred about twice as often as its error at AUC 0.9 (docs/statistics.md). An AUC of
    exactly 0 or 1 has no measured spread: its bounds are the value."""
    if not 0.0 < value < 1.0:
        return Bounds(value, value)
    se = (ci_high - ci_low) / (2 * z_quantile((1 - level) / 2))
    centre, margin = special.logit(value), z_quantile(error) * se / (value * (1 - value))
    return Bounds(float(special.expit(centre - margin)), float(special.expit(centre + margin)))


def auc_bounds(
    value: float,
    ci_low: float,
    ci_high: float,
    n_members: int,
    n_non_members: int,
    error: float,
    level: float = 0.95,
) -> Bounds:
    """Bounds at ``error`` on an AUC of ``n_members`` and ``n_non_members`` points with the bootstrap
    interval ``ci_low``, ``ci_high`` at ``level``: on each side the more cautious of :func:`logit_auc_bounds`
    and Newcombe's score bound (Hanley and McNeil's variance at each candidate AUC,
    :func:`~audit_core.stats.metrics.auc_score_interval`). On small audits at a high AUC the bootstrap
    underestimates the spread even on the logit scale and its lower bound errs too often; the score bound
    does not (docs/statistics.md). For an AUC of 0 or 1 see :func:`any_distribution_auc_bounds`."""
    if not 0.0 < value < 1.0:
        return Bounds(value, value)
    logit = logit_auc_bounds(value, ci_low, ci_high, error, level)
    score = auc_score_interval(value, n_members, n_non_members, level=1 - 2 * error)
    return Bounds(min(logit.low, score.ci_low), max(logit.high, score.ci_high))


def any_distribution_auc_bounds(value: float, n_members: int, n_non_members: int, error: float) -> Bounds:
    """Bounds on an AUC measured on few records (one class's), or at 0 or 1 (where a bootstrap has no
    spread), whatever the scores' distribution: every AUC
    ``t`` within ``z`` standard errors of the estimate, with van Dantzig's bound on the variance of the
    estimate, ``t (1 - t) / min(m, n)``, which holds for any pair of score distributions. This is the
    Wilson score bound of a proportion on ``min(m, n)`` trials; it never collapses at an AUC of 0 or 1."""
    z, trials = z_quantile(error), min(n_members, n_non_members)
    centre, denominator = value + z * z / (2 * trials), 1 + z * z / trials
    margin = z * math.sqrt(value * (1 - value) / trials + z * z / (4 * trials * trials))
    return Bounds(max(0.0, (centre - margin) / denominator), min(1.0, (centre + margin) / denominator))


def proportion_bounds(successes: int, trials: int, error: float) -> Bounds:
    """Exact (Clopper-Pearson) one-sided bounds on a binomial proportion."""
    interval = clopper_pearson(successes, trials, level=1 - 2 * error)
    return Bounds(interval.ci_low, interval.ci_high)


@functools.cache
def threshold_ranks(n_non_members: int, target_fpr: float, error: float) -> tuple[int, int]:
    """``(k_low, k_high)``: the largest rank ``k`` whose score lies below the true ``target_fpr`` threshold
    with probability at most ``error / 2``, ``P(Bin(n, target_fpr) <= k - 1)`` (0 when none), and the
    smallest whose score lies above it with at most that, ``P(Bin(n, target_fpr) >= k)`` (``n + 1`` when
    none). A family's values share their sizes and error, so each pair is computed once."""
    counts = np.arange(n_non_members + 1)
    k_low = int((stats.binom.cdf(counts, n_non_members, target_fpr) <= error / 2).sum())
    k_high = int(np.argmax(stats.binom.sf(counts, n_non_members, target_fpr) <= error / 2)) + 1
    return k_low, k_high


def tpr_at_fpr_bounds(
    member_scores: np.ndarray, non_member_scores: np.ndarray, target_fpr: float, error: float
) -> Bounds:
    """Bounds at ``error`` on the true TPR at ``target_fpr`` (the best TPR of a threshold whose true FPR is
    at most it), from order statistics of the non-members' scores, whatever their distribution.

    The ``k``-th largest of ``n`` non-member scores lies below the true threshold of ``target_fpr`` only when
    fewer than ``k`` non-members score at or above that threshold: a binomial tail. For the lower bound,
    ``k`` is the largest with that tail at most ``error / 2``, so the members above that score were flagged
    by a threshold of FPR at most ``target_fpr`` but for that chance, and their Clopper-Pearson lower bound
    at ``error / 2`` bounds the TPR from below (none such ``k``: too few non-members, the bound is 0). The
    upper bound mirrors it with the smallest ``k`` that lies above the true threshold but for ``error / 2``:
    every threshold of FPR at most ``target_fpr`` lies at or above that score, so it flags no member above
    it that the score does not (tied scores, as a label-only attack's, stay on the side they are). A TPR
    read at a threshold chosen on the same few non-members varies with that threshold far more than a
    binomial count given it does."""
    members, non_members = np.asarray(member_scores, float), np.asarray(non_member_scores, float)
    if np.isnan(members).any() or np.isnan(non_members).any():  # a score that ranks nowhere bounds nothing
        return Bounds(0.0, 1.0)
    n, m = len(non_members), len(members)
    ranked = np.sort(non_members)[::-1]
    k_low, k_high = threshold_ranks(n, target_fpr, error)
    low = 0.0
    if k_low >= 1:
        above = int((members > ranked[k_low - 1]).sum())
        low = clopper_pearson(above, m, level=1 - error).ci_low
    high = 1.0
    if k_high <= n:
        above = int((members > ranked[k_high - 1]).sum())
        high = clopper_pearson(above, m, level=1 - error).ci_high
    return Bounds(float(low), float(high))


def null_tpr_at_fpr_high(n_members: int, n_non_members: int, target_fpr: float, error: float) -> float:
    """The upper bound of :func:`tpr_at_fpr_bounds` that a model leaking nothing typically reaches: its
    members score like its non-members, so about ``k / (n + 1)`` of them reach the ``k``-th largest."""
    k_high = threshold_ranks(n_non_members, target_fpr, error)[1]
    if k_high > n_non_members:
        return 1.0
    expected = round(n_members * k_high / (n_non_members + 1))
    return clopper_pearson(expected, n_members, level=1 - error).ci_high


def dkw_margin(n: int, error: float) -> float:
    """The one-sided Dvoretzky-Kiefer-Wolfowitz margin (Massart's constant): an empirical distribution
    function of ``n`` points exceeds the true one anywhere by more than this with probability ``error``."""
    return math.sqrt(math.log(1 / error) / (2 * n))


def advantage_bounds(value: float, n_members: int, n_non_members: int, error: float) -> Bounds:
    """Bounds on the true largest advantage ``max_t TPR(t) - FPR(t)`` from the largest observed one over all
    thresholds: the two score distributions' DKW bands (each at ``error / 2``) hold at every threshold at
    once, so choosing the threshold on the same points costs nothing."""
    margin = dkw_margin(n_members, error / 2) + dkw_margin(n_non_members, error / 2)
    return Bounds(max(0.0, value - margin), min(1.0, value + margin))


def null_auc_high(n_members: int, n_non_members: int, error: float) -> float:
    """The upper bound on the AUC of a model that leaks nothing (0.5, with the Mann-Whitney null variance
    ``(m + n + 1) / (12 m n)``)."""
    variance = (n_members + n_non_members + 1) / (12 * n_members * n_non_members)
    return 0.5 + z_quantile(error) * math.sqrt(variance)


def null_tpr_high(n_members: int, n_non_members: int, target_fpr: float, error: float) -> float:
    """The upper bound on the cross-fitted TPR at ``target_fpr`` of a model that leaks nothing: its expected
    TPR is the chance that a score beats the threshold read on half the non-members, ``(k + 1) / (h + 1)``
    with ``h`` the half's size and ``k = floor(target h)`` the false positives it allows."""
    half = n_non_members // 2
    expected = (math.floor(target_fpr * half + 1e-9) + 1) / (half + 1)
    return proportion_bounds(round(expected * n_members), n_members, error).high


def null_advantage_high(n_members: int, n_non_members: int, error: float) -> float:
    """The upper bound on the advantage when the observed advantage is 0 (a model that leaks nothing)."""
    return advantage_bounds(0.0, n_members, n_non_members, error).high

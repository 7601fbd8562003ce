"""Simultaneous bounds for a family of comparisons (the gate's multiplicity control).

The gate compares many values with their limits: every rule, attack, attacker knowledge and condition. Each
value gets a lower and an upper confidence bound that errs with probability at most ``error`` (one-sided);
with ``error = alpha / m`` for a family of ``m`` values, Bonferroni's inequality makes all lower bounds hold
together with probability at least ``1 - alpha``. (Holm's step-down procedure rejects the same first
hypothesis, so it fails exactly the same audits.) The ``null_*`` functions give the upper bound a model that
leaks nothing would typically reach: when it exceeds a limit, the audit is too small to resolve that limit.
Formulas: docs/statistics.md.
"""

import math

from scipy import special, stats

from audit_core.stats.metrics import Bounds, auc_score_interval, clopper_pearson, threshold_ranks


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

"""The gate's statistics, each claim checked by simulation or against an implementation written here."""

import math

import numpy as np
import pytest
from scipy import stats

from audit_core.stats.family import advantage_bounds, null_auc_high, null_tpr_high
from audit_core.stats.metrics import Estimate, crossfit_tpr_at_fpr, max_advantage, roc_auc, tpr_at_fpr
from audit_core.stats.paired import paired_difference

RUNS = 300
SLACK = 3 * math.sqrt(0.05 * 0.95 / RUNS)  # three standard errors of a 5% rate over RUNS simulations


def _null(rng, n=200):
    return np.r_[rng.normal(size=n), rng.normal(size=n)], np.r_[np.ones(n, bool), np.zeros(n, bool)]


def test_the_crossfitted_tpr_matches_an_implementation_written_here():
    rng = np.random.default_rng(0)
    scores, is_member = (
        np.r_[rng.normal(1, 1, 120), rng.normal(0, 1, 130)],
        np.r_[np.ones(120, bool), np.zeros(130, bool)],
    )
    ours = crossfit_tpr_at_fpr(scores, is_member, 0.05, rng=np.random.default_rng(7))
    halves = np.random.default_rng(7)
    members, non_members = scores[is_member], scores[~is_member]
    member_half, non_member_half = halves.permutation(120) % 2, halves.permutation(130) % 2
    hits = flagged = 0
    for half in (0, 1):
        calibration = np.sort(non_members[non_member_half != half])
        allowed = int(0.05 * len(calibration))  # false positives the threshold may allow
        threshold = calibration[len(calibration) - 1 - allowed]
        hits += (members[member_half == half] > threshold).sum()
        flagged += (non_members[non_member_half == half] > threshold).sum()
    assert ours.tpr.value == hits / 120 and ours.achieved_fpr == flagged / 130 and ours.resolved


def test_on_a_null_model_the_crossfitted_fpr_is_honest_and_the_in_sample_one_is_not():
    """Under the null a threshold's TPR is its true FPR: the cross-fitted FPR estimates it without bias, the
    FPR read on the points that chose the threshold understates it."""
    rng = np.random.default_rng(1)
    crossfit, in_sample = [], []
    for _ in range(RUNS):
        scores, is_member = _null(rng)
        crossfit.append(crossfit_tpr_at_fpr(scores, is_member, 0.05, rng=rng))
        in_sample.append(tpr_at_fpr(scores, is_member, 0.05))
    expected = 6 / 101  # a score beats the 6th largest of 100 non-members of the other half
    tpr = np.array([t.tpr.value for t in crossfit])
    standard_error = np.std(tpr) / math.sqrt(RUNS)
    assert abs(tpr.mean() - expected) < 3 * standard_error
    assert abs(np.mean([t.achieved_fpr for t in crossfit]) - expected) < 3 * standard_error
    understated = np.mean([t.tpr.value - t.achieved_fpr for t in in_sample])
    assert understated > 3 * standard_error and max(t.achieved_fpr for t in in_sample) <= 0.05
    assert null_tpr_high(200, 200, 0.05, 0.05) == pytest.approx(
        stats.beta.ppf(0.95, round(expected * 200) + 1, 200 - round(expected * 200))
    )


def test_the_paired_accuracy_drop_interval_covers_the_true_drop():
    rng = np.random.default_rng(2)
    covered = 0
    for _ in range(RUNS):  # 5% of points lost by the defense, 2% gained: a true drop of 0.03
        outcome = rng.choice(3, size=300, p=[0.05, 0.02, 0.93])
        undefended = (outcome == 0) | ((outcome == 2) & (rng.random(300) < 0.9))
        defended = np.where(outcome == 2, undefended, outcome == 1)
        drop = paired_difference(undefended, defended, rng=rng)
        assert drop.value == pytest.approx(undefended.mean() - defended.mean())
        covered += drop.ci_low <= 0.03 <= drop.ci_high
    assert covered / RUNS >= 0.95 - SLACK
    same = rng.random(50) < 0.8
    assert paired_difference(same, same, rng=rng) == Estimate(0.0, 0.0, 0.0)


def test_the_advantage_lower_bound_errs_at_most_at_its_level():
    true_advantage = 2 * stats.norm.cdf(0.25) - 1  # N(0.5, 1) against N(0, 1), best threshold 0.25
    rng = np.random.default_rng(3)
    wrong = 0
    for _ in range(RUNS):
        scores = np.r_[rng.normal(0.5, 1, 200), rng.normal(0, 1, 200)]
        is_member = np.r_[np.ones(200, bool), np.zeros(200, bool)]
        bounds = advantage_bounds(max_advantage(scores, is_member), 200, 200, 0.05)
        wrong += bounds.low > true_advantage or bounds.high < true_advantage
    assert wrong / RUNS <= 0.1 + SLACK


def test_the_null_auc_bound_is_exceeded_by_null_audits_at_its_error_rate():
    rng = np.random.default_rng(4)
    high = null_auc_high(200, 200, 0.05)
    above = sum(roc_auc(*_null(rng), n_bootstrap=0).value > high for _ in range(RUNS))
    assert abs(above / RUNS - 0.05) <= SLACK

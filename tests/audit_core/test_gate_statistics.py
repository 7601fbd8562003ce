"""The gate's statistics, each claim checked by simulation or against an implementation written here."""

import math

import numpy as np
import pytest
from scipy import stats

from audit_core.results.risk import MeasuredAuc, risk_statement, risk_tier, shown_above_chance
from audit_core.stats.family import (
    advantage_bounds,
    any_distribution_auc_bounds,
    auc_bounds,
    logit_auc_bounds,
    null_auc_high,
    null_tpr_at_fpr_high,
    null_tpr_high,
    proportion_bounds,
)
from audit_core.stats.metrics import (
    auc_score_interval,
    clopper_pearson,
    crossfit_tpr_at_fpr,
    max_advantage,
    roc_auc,
    tpr_at_fpr,
    tpr_at_fpr_bounds,
)
from audit_core.stats.names import FPR_TARGETS
from audit_core.stats.paired import PairedDrop
from audit_core.stats.two_valued import TwoValuedScores

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


@pytest.mark.parametrize(
    ("lost", "gained", "points"),
    [(0.02, 0.0, 14), (0.0, 0.0, 14), (0.15, 0.10, 60), (0.05, 0.02, 300), (0.003, 0.001, 299)],
)
def test_each_paired_drop_bound_errs_at_most_at_its_error_even_on_few_test_points(lost, gained, points):
    """Test points lost and gained by a defense at true rates ``lost`` and ``gained``: each one-sided bound
    on the drop ``lost - gained`` is wrong in at most 5% of simulated audits, even where few answers
    change."""
    rng = np.random.default_rng(2)
    counts = rng.multinomial(points, [lost, gained, 1 - lost - gained], size=RUNS)
    true_drop = lost - gained
    low_wrong = high_wrong = 0
    for b, c, _ in counts:
        drop = PairedDrop(int(b), int(c), points)
        bounds = drop.bounds(0.05)
        assert drop.value == (b - c) / points and bounds.low <= drop.value <= bounds.high
        low_wrong += bounds.low > true_drop
        high_wrong += bounds.high < true_drop
    assert low_wrong / RUNS <= 0.05 + SLACK and high_wrong / RUNS <= 0.05 + SLACK


def test_the_paired_drop_bounds_match_clopper_pearson_written_here():
    def beta_bounds(k, n, error):  # exact one-sided binomial bounds from the beta distribution
        low = 0.0 if k == 0 else stats.beta.ppf(error, k, n - k + 1)
        return low, 1.0 if k == n else stats.beta.ppf(1 - error, k + 1, n - k)

    for lost, gained, points, error in [(0, 0, 14, 0.025), (7, 3, 299, 0.0004), (40, 0, 100, 0.01)]:
        lost_low, lost_high = beta_bounds(lost, points, error / 2)
        gained_low, gained_high = beta_bounds(gained, points, error / 2)
        bounds = PairedDrop(lost, gained, points).bounds(error)
        assert bounds.low == pytest.approx(lost_low - gained_high) and bounds.high == pytest.approx(
            lost_high - gained_low
        )
    # none of 14 answers changed: a drop of 0, not a drop known to be 0
    unseen = 1 - 0.0125 ** (1 / 14)
    estimate = PairedDrop(0, 0, 14).estimate()
    assert estimate.value == 0 and (estimate.ci_low, estimate.ci_high) == pytest.approx((-unseen, unseen))
    right = np.array([True, True, False, True, False])
    assert PairedDrop.of(right, np.array([False, True, True, True, False])) == PairedDrop(1, 1, 5)


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


@pytest.mark.slow  # 3000 bootstrapped AUCs each: about 30 s and 15 s
@pytest.mark.parametrize("spread, auc, points", [(1.0, 0.9, 150), (2.0, 0.95, 30)])
def test_each_auc_bound_errs_at_most_at_its_error_where_the_bootstraps_standard_error_alone_does_not(
    spread, auc, points
):
    """Binormal scores (members' spread ``spread`` times the non-members'), one-sided error 0.0125 (the
    gate's 0.05 over four values): the gate's bounds err at most at their error on each side. The bootstrap's
    standard error as a margin on the AUC's own scale (written here) puts the lower bound above the truth
    far more often at AUC 0.9, because the spread read at a high estimate is smaller than at the truth; on
    30 members and 30 non-members at AUC 0.95 even the same standard error on the logit scale does, which the
    score bound beside it corrects."""
    error, runs = 0.0125, 3000
    shift = math.sqrt(1 + spread**2) * stats.norm.ppf(auc)
    is_member = np.r_[np.ones(points, bool), np.zeros(points, bool)]
    rng = np.random.default_rng(6)
    low_wrong = high_wrong = flat_low_wrong = logit_low_wrong = 0
    for _ in range(runs):
        scores = np.r_[rng.normal(shift, spread, points), rng.normal(size=points)]
        estimate = roc_auc(scores, is_member, rng=rng)
        bounds = auc_bounds(estimate.value, estimate.ci_low, estimate.ci_high, points, points, error)
        low_wrong += bounds.low > auc
        high_wrong += bounds.high < auc
        se = (estimate.ci_high - estimate.ci_low) / (2 * stats.norm.isf(0.025))
        flat_low_wrong += estimate.value - stats.norm.isf(error) * se > auc
        logit_low_wrong += (
            logit_auc_bounds(estimate.value, estimate.ci_low, estimate.ci_high, error).low > auc
        )
    slack = 3 * math.sqrt(error * (1 - error) / runs)
    assert low_wrong / runs <= error + slack and high_wrong / runs <= error + slack
    assert flat_low_wrong / runs > error + slack
    if points == 30:
        assert logit_low_wrong / runs > error + slack


@pytest.mark.parametrize(
    "scores, members, non_members",
    [("binormal", 20, 20), ("binormal", 10, 40), ("binormal", 84, 68), ("exponential", 20, 20)],
)
def test_each_class_auc_bound_errs_at_most_at_its_error_where_the_reports_interval_does_not(
    scores, members, non_members
):
    """A class's few records, true AUC 0.9 (binormal, or exponential scores whose members' scale is 9 times
    the non-members'), one-sided error 0.0125: the gate's class bounds (van Dantzig's variance bound) err at
    most at their error on each side, whatever the scores' distribution. The report's score interval, read at
    the same error, puts its upper bound (the one a false pass needs) below the truth too often on 20/20."""
    auc, error, runs = 0.9, 0.0125, 4000
    rng = np.random.default_rng(members + non_members)
    is_member = np.arange(members + non_members) < members
    low_wrong = high_wrong = score_high_wrong = 0
    for _ in range(runs):
        if scores == "binormal":
            values = np.r_[
                rng.normal(math.sqrt(2) * stats.norm.ppf(auc), 1, members), rng.normal(size=non_members)
            ]
        else:  # P(9 E1 > E2) = 9 / 10 for independent standard exponentials
            values = np.r_[9 * rng.exponential(size=members), rng.exponential(size=non_members)]
        measured = roc_auc(values, is_member, n_bootstrap=0).value
        bounds = any_distribution_auc_bounds(measured, members, non_members, error)
        low_wrong += bounds.low > auc
        high_wrong += bounds.high < auc
        score_high_wrong += auc_score_interval(measured, members, non_members, 1 - 2 * error).ci_high < auc
    slack = 3 * math.sqrt(error * (1 - error) / runs)
    assert low_wrong / runs <= error + slack and high_wrong / runs <= error + slack
    if (scores, members) == ("binormal", 20):
        assert score_high_wrong / runs > error + slack


def test_the_any_distribution_auc_bounds_are_wilsons_on_the_smaller_part_written_here():
    """Every AUC t with (estimate - t)^2 <= z^2 t (1 - t) / min(m, n), solved here as a quadratic in t."""
    for value, members, non_members, error in [
        (1.0, 84, 68, 0.001),
        (0.5, 5, 30, 0.0125),
        (0.73, 40, 12, 0.025),
        (0.0, 9, 9, 0.0004),
    ]:
        z2, trials = stats.norm.isf(error) ** 2, min(members, non_members)
        # (1 + z2/k) t^2 - (2 v + z2/k) t + v^2 = 0
        a, b, c = 1 + z2 / trials, -(2 * value + z2 / trials), value**2
        roots = sorted(np.roots([a, b, c]).real)
        bounds = any_distribution_auc_bounds(value, members, non_members, error)
        assert (bounds.low, bounds.high) == pytest.approx((max(roots[0], 0), min(roots[1], 1)), abs=1e-12)


def test_two_valued_scores_give_the_auc_and_its_clopper_pearson_bounds_written_here():
    def beta_bounds(k, n, error):  # exact one-sided binomial bounds from the beta distribution
        low = 0.0 if k == 0 else stats.beta.ppf(error, k, n - k + 1)
        return low, 1.0 if k == n else stats.beta.ppf(1 - error, k + 1, n - k)

    rng = np.random.default_rng(8)
    for members, non_members, p_members, p_non_members, error in [
        (150, 150, 1.0, 0.98, 0.0125),
        (40, 300, 0.7, 0.6, 0.001),
        (25, 25, 1.0, 1.0, 0.05),  # one value: every point scored high
    ]:
        is_member = np.r_[np.ones(members, bool), np.zeros(non_members, bool)]
        right = np.r_[rng.random(members) < p_members, rng.random(non_members) < p_non_members]
        scores = np.where(right, 0.25, -3.0)  # any two values: the larger is "high"
        counts = TwoValuedScores.of(scores, is_member)
        a, b = int(right[is_member].sum()), int(right[~is_member].sum())
        assert counts == TwoValuedScores(a, members, b, non_members)
        assert counts.auc == pytest.approx(roc_auc(scores, is_member, n_bootstrap=0).value, abs=1e-12)
        member_low, member_high = beta_bounds(a, members, error / 2)
        non_member_low, non_member_high = beta_bounds(b, non_members, error / 2)
        bounds = counts.bounds(error)
        assert bounds.low == pytest.approx((1 + member_low - non_member_high) / 2)
        assert bounds.high == pytest.approx((1 + member_high - non_member_low) / 2)
    assert TwoValuedScores.of(np.array([0.0, 1.0, 2.0]), np.array([True, False, True])) is None
    assert TwoValuedScores.of(np.array([1.0, np.nan]), np.array([True, False])) is None
    assert TwoValuedScores(150, 150, 120, 150).leaking_nothing() == TwoValuedScores(135, 150, 135, 150)


@pytest.mark.parametrize("members_right, non_members_right, points", [(1.0, 0.98, 150), (1.0, 0.8, 50)])
def test_each_two_valued_auc_bound_errs_at_most_at_its_error_where_the_bootstraps_does_not(
    members_right, non_members_right, points
):
    """A label-only attack on a model right on (nearly) every member: the exact bounds err at most at their
    error on each side; the bootstrap's logit upper bound (the gate's before) errs far more often, because a
    rate at 1 shows no spread: the false pass that tells a leaking model it is safe."""
    auc, error, runs = 0.5 * (1 + members_right - non_members_right), 0.0125, 800
    is_member = np.r_[np.ones(points, bool), np.zeros(points, bool)]
    rng = np.random.default_rng(9)
    low_wrong = high_wrong = bootstrap_high_wrong = 0
    for _ in range(runs):
        right = np.r_[rng.random(points) < members_right, rng.random(points) < non_members_right]
        bounds = TwoValuedScores.of(right * 1.0, is_member).bounds(error)
        low_wrong += bounds.low > auc
        high_wrong += bounds.high < auc
        estimate = roc_auc(right * 1.0, is_member, rng=rng)
        bootstrap_high_wrong += (
            logit_auc_bounds(estimate.value, estimate.ci_low, estimate.ci_high, error).high < auc
        )
    slack = 3 * math.sqrt(error * (1 - error) / runs)
    assert low_wrong / runs <= error + slack and high_wrong / runs <= error + slack
    assert bootstrap_high_wrong / runs > error + slack


def _tpr_bounds_written_here(members, non_members, fpr, error):
    """The order-statistic bounds of docs/statistics.md with the binomial tails summed term by term."""
    n, m = len(non_members), len(members)
    pmf = [math.comb(n, j) * fpr**j * (1 - fpr) ** (n - j) for j in range(n + 1)]
    k_low = max((k for k in range(1, n + 1) if sum(pmf[:k]) <= error / 2), default=0)
    k_high = min((k for k in range(1, n + 1) if sum(pmf[k:]) <= error / 2), default=n + 1)
    ranked = sorted(non_members, reverse=True)
    low = 0.0 if k_low == 0 else stats.beta.ppf(error / 2, x := sum(members > ranked[k_low - 1]), m - x + 1)
    if k_high > n:
        return (0.0 if math.isnan(low) else low), 1.0
    y = sum(members > ranked[k_high - 1])
    high = 1.0 if y == m else stats.beta.ppf(1 - error / 2, y + 1, m - y)
    return (0.0 if math.isnan(low) else low), high


def test_the_tpr_bounds_match_order_statistics_and_clopper_pearson_written_here():
    rng = np.random.default_rng(12)
    for members, non_members, fpr, error in [
        (300, 400, 0.01, 0.0125),
        (50, 900, 0.01, 0.001),
        (80, 60, 0.05, 0.05),
    ]:
        member_scores = rng.normal(1.0, 1, members).round(1)  # ties
        non_member_scores = rng.normal(0.0, 1, non_members).round(1)
        bounds = tpr_at_fpr_bounds(member_scores, non_member_scores, fpr, error)
        expected = _tpr_bounds_written_here(member_scores, non_member_scores, fpr, error)
        assert (bounds.low, bounds.high) == pytest.approx(expected, abs=1e-12)


def test_a_label_only_attacks_tpr_at_1pct_fpr_is_bounded_near_0_where_many_non_members_share_its_top_score():
    """Scores of two values (right or wrong, as a label-only attack's): 86% of non-members share the top
    value, so no threshold of FPR at most 1% flags a member, and the true TPR at 1% FPR is 0; counting the
    members at the top value would bound it by their 90%."""
    rng = np.random.default_rng(14)
    members, non_members = (rng.random(2000) < 0.9) * 1.0, (rng.random(2000) < 0.86) * 1.0
    bounds = tpr_at_fpr_bounds(members, non_members, 0.01, 0.001)
    assert bounds.low == 0.0 and bounds.high == pytest.approx(1 - 0.0005 ** (1 / 2000))
    members[0] = np.nan  # a score that ranks nowhere: nothing is shown
    unbounded = tpr_at_fpr_bounds(members, non_members, 0.01, 0.001)
    assert (unbounded.low, unbounded.high) == (0.0, 1.0)


@pytest.mark.parametrize("shift, points", [(1.0, 1000), (2.0, 2000)])
def test_each_tpr_bound_errs_at_most_at_its_error_where_the_count_at_the_read_threshold_does_not(
    shift, points
):
    """Binormal scores, the TPR at 1% FPR, one-sided error 0.0125: the order-statistic bounds err at most
    at their error on each side. The Clopper-Pearson bounds of the cross-fitted count (the gate's before),
    exact only given the thresholds it was read at, put the lower bound above the truth far too often: the
    threshold read on a few hundred non-members moves the TPR more than the count's binomial spread."""
    error, runs, fpr = 0.0125, 1000, 0.01
    truth = stats.norm.sf(stats.norm.isf(fpr) - shift)
    is_member = np.r_[np.ones(points, bool), np.zeros(points, bool)]
    rng = np.random.default_rng(int(10 * shift) + points)
    low_wrong = high_wrong = count_low_wrong = 0
    for _ in range(runs):
        members, non_members = rng.normal(shift, 1, points), rng.normal(size=points)
        bounds = tpr_at_fpr_bounds(members, non_members, fpr, error)
        low_wrong += bounds.low > truth
        high_wrong += bounds.high < truth
        crossfit = crossfit_tpr_at_fpr(np.r_[members, non_members], is_member, fpr, rng=rng)
        count_low_wrong += proportion_bounds(round(crossfit.tpr.value * points), points, error).low > truth
    slack = 3 * math.sqrt(error * (1 - error) / runs)
    assert low_wrong / runs <= error + slack and high_wrong / runs <= error + slack
    assert count_low_wrong / runs > 4 * error


def test_the_stored_tpr_interval_is_the_order_statistic_bounds_at_half_its_error_holding_the_estimate():
    rng = np.random.default_rng(21)
    for points in (150, 400, 3000):  # where the lower bound is 0, where it is not, and at 0.1% FPR as well
        members, non_members = rng.normal(1.5, 1, points), rng.normal(size=points)
        scores, is_member = np.r_[members, non_members], np.r_[np.ones(points, bool), np.zeros(points, bool)]
        for fpr in FPR_TARGETS:
            stored = crossfit_tpr_at_fpr(scores, is_member, fpr, rng=np.random.default_rng(points))
            bounds = tpr_at_fpr_bounds(members, non_members, fpr, 0.025)
            value = stored.tpr.value
            assert (stored.tpr.ci_low, stored.tpr.ci_high) == (
                min(bounds.low, value),
                max(bounds.high, value),
            )


@pytest.mark.parametrize("fpr, shift", [(0.01, 1.0), (0.001, 2.0), (0.1, 1.0)])
def test_the_stored_tpr_interval_covers_the_truth_at_95_percent_where_the_counts_interval_does_not(
    fpr, shift
):
    """Binormal scores on 1000/1000 points, 400 audits: ``metrics.parquet``'s 95% interval of the TPR at each
    target FPR misses the true TPR in at most 5% of audits (3 standard errors of slack); the Clopper-Pearson
    interval of the cross-fitted count, which it replaced, missed it in more than a tenth."""
    runs, points = 400, 1000
    truth = stats.norm.sf(stats.norm.isf(fpr) - shift)
    is_member = np.r_[np.ones(points, bool), np.zeros(points, bool)]
    rng = np.random.default_rng(int(1000 * fpr) + points)
    missed = count_missed = 0
    for _ in range(runs):
        members, non_members = rng.normal(shift, 1, points), rng.normal(size=points)
        stored = crossfit_tpr_at_fpr(np.r_[members, non_members], is_member, fpr, rng=rng).tpr
        missed += not stored.ci_low <= truth <= stored.ci_high
        count = clopper_pearson(round(stored.value * points), points)
        count_missed += not count.ci_low <= truth <= count.ci_high
    assert missed / runs <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / runs)
    assert count_missed / runs > 0.1


def test_a_model_that_leaks_nothing_reaches_the_null_tpr_bound_at_about_half_the_time():
    """The null upper bound is what a model whose members score like its non-members typically reaches:
    between a quarter and three quarters of such audits (1000/1000 points, 400 audits) lie below it."""
    rng = np.random.default_rng(13)
    high = null_tpr_at_fpr_high(1000, 1000, 0.01, 0.0125)
    below = sum(
        tpr_at_fpr_bounds(rng.normal(size=1000), rng.normal(size=1000), 0.01, 0.0125).high <= high
        for _ in range(400)
    )
    assert 0.25 <= below / 400 <= 0.75


def test_the_null_auc_bound_is_exceeded_by_null_audits_at_its_error_rate():
    rng = np.random.default_rng(4)
    high = null_auc_high(200, 200, 0.05)
    above = sum(roc_auc(*_null(rng), n_bootstrap=0).value > high for _ in range(RUNS))
    assert abs(above / RUNS - 0.05) <= SLACK


def test_the_risk_sentence_calls_a_model_that_leaks_nothing_better_than_chance_at_most_at_alpha():
    """Eight attacks on a model that leaks nothing (150/150 points): the strongest AUC falls above the lowest
    tier in a large share of audits; shown above chance in at most 5% of them. A leak (AUC 0.64) is shown."""
    rng = np.random.default_rng(6)
    is_member = np.r_[np.ones(150, bool), np.zeros(150, bool)]

    def audit(shift: float) -> list[MeasuredAuc]:
        scores = (rng.normal(size=300) + shift * is_member for _ in range(8))
        return [MeasuredAuc(roc_auc(s, is_member, n_bootstrap=0).value, 150, 150) for s in scores]

    null = [audit(0.0) for _ in range(RUNS)]
    above_low = np.mean([risk_tier(max(a.value for a in aucs))[0] != "low" for aucs in null])
    shown = np.mean([shown_above_chance(aucs) for aucs in null])
    assert above_low > 0.25 and shown <= 0.05 + SLACK
    tier, meaning = risk_statement(
        next(aucs for aucs in null if risk_tier(max(a.value for a in aucs))[0] != "low")
    )
    assert tier != "low" and meaning.startswith("But no attack is shown better than chance")
    assert np.mean([shown_above_chance(audit(0.5)) for _ in range(50)]) >= 0.9

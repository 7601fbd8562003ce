import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score, roc_curve

from audit_core.stats.metrics import (
    auc_score_interval,
    balanced_accuracy,
    best_balanced_accuracy_threshold,
    clopper_pearson,
    epsilon_lower_bound,
    max_advantage,
    proportion,
    roc_auc,
    roc_points,
    tpr_at_fpr,
)


def _scores(seed: int, n: int = 400, shift: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    is_member = np.arange(n) < n // 2
    scores = np.round(rng.normal(shift * is_member, 1.0), 1)  # rounding creates ties
    return scores, is_member


@pytest.mark.parametrize("seed", range(5))
def test_auc_equals_scikit_learn_with_ties(seed):
    scores, is_member = _scores(seed)
    assert roc_auc(scores, is_member).value == pytest.approx(roc_auc_score(is_member, scores), abs=1e-12)


def test_bootstrap_interval_covers_the_true_auc_at_the_nominal_rate():
    """Binormal scores with a known AUC = Phi(shift / sqrt(2)); 200 seeds, 95% intervals."""
    shift, seeds = 0.5, 200
    true_auc = stats.norm.cdf(shift / np.sqrt(2))
    covered = sum(
        (e := roc_auc(*_scores(seed, n=300, shift=shift))).ci_low <= true_auc <= e.ci_high
        for seed in range(seeds)
    )
    # Rounding to 0.1 shifts the truth a little; allow the binomial spread of 200 draws at p = 0.95 (3 SD).
    assert covered >= seeds * 0.95 - 3 * np.sqrt(seeds * 0.95 * 0.05)


@pytest.mark.parametrize("members, non_members", [(5, 5), (9, 11), (40, 30)])
@pytest.mark.parametrize("true_auc", [0.75, 0.99])
def test_the_score_interval_covers_small_classes_and_high_aucs_at_the_nominal_rate(
    members, non_members, true_auc
):
    """Binormal scores of a known AUC (members shifted by sqrt(2) Phi^-1(AUC)) on a class's few records,
    where a percentile bootstrap collapses (at 5/5 and AUC 0.99 it covers about 16%): 400 draws of 95%
    intervals cover at least 93%, within 3 binomial standard deviations (the score method falls a little
    short of 95% only at the smallest classes and highest AUCs: 93.6% of 2,000 draws at 5/5 and 0.99)."""
    rng = np.random.default_rng(members * 100 + non_members)
    shift, draws = np.sqrt(2) * stats.norm.ppf(true_auc), 400
    covered = 0
    for _ in range(draws):
        scores = np.r_[rng.normal(shift, 1.0, members), rng.normal(0.0, 1.0, non_members)]
        is_member = np.arange(members + non_members) < members
        e = auc_score_interval(roc_auc_score(is_member, scores), members, non_members)
        covered += e.ci_low <= true_auc <= e.ci_high
    assert covered >= draws * 0.93 - 3 * np.sqrt(draws * 0.93 * 0.07)


@pytest.mark.parametrize(
    "auc, members, non_members", [(1.0, 84, 68), (0.737, 9, 11), (0.0, 5, 5), (0.5, 30, 3)]
)
def test_the_score_intervals_ends_are_where_the_distance_equals_z_standard_errors(auc, members, non_members):
    """Each end ``t`` (inside 0..1) solves ``|auc - t| = z sd(t)``, with the variance written here from Hanley
    and McNeil's Q1 = t / (2 - t) and Q2 = 2 t^2 / (1 + t), both sizes replaced by their mean."""
    z, mean_size = stats.norm.ppf(0.975), (members + non_members) / 2

    def sd(t):
        q1, q2 = t / (2 - t), 2 * t * t / (1 + t)
        pairs = t * (1 - t) + (mean_size - 1) * (q1 - t * t) + (mean_size - 1) * (q2 - t * t)
        return np.sqrt(pairs / (members * non_members))

    e = auc_score_interval(auc, members, non_members)
    assert e.ci_low <= auc <= e.ci_high and e.ci_low < e.ci_high
    for end in (e.ci_low, e.ci_high):
        if 0 < end < 1:
            assert abs(auc - end) == pytest.approx(z * sd(end), abs=1e-9)
        else:
            assert end == auc  # an estimate of 0 or 1 is its own end on that side


def test_best_threshold_maximises_balanced_accuracy_by_brute_force():
    scores, is_member = _scores(11, n=120)
    threshold = best_balanced_accuracy_threshold(scores, is_member)
    best = max(balanced_accuracy(scores >= t, is_member).value for t in np.unique(scores))
    assert balanced_accuracy(scores >= threshold, is_member).value == pytest.approx(best)
    assert max_advantage(scores, is_member) == pytest.approx(2 * best - 1)


def test_balanced_accuracy_interval_is_never_degenerate():
    is_member = np.arange(100) < 50
    estimate = balanced_accuracy(np.zeros(100, bool), is_member)
    assert estimate.value == 0.5 and estimate.ci_low < 0.5 < estimate.ci_high


def test_proportion_uses_wilson_interval():
    successes = np.r_[np.ones(93, bool), np.zeros(7, bool)]
    interval = stats.binomtest(93, 100).proportion_ci(method="wilson")
    estimate = proportion(successes)
    assert (estimate.value, estimate.ci_low, estimate.ci_high) == pytest.approx(
        (0.93, interval.low, interval.high)
    )


def test_metrics_refuse_a_single_class():
    with pytest.raises(ValueError, match="at least one member and one non-member"):
        roc_auc(np.ones(4), np.ones(4, bool))


@pytest.mark.parametrize("target", [0.001, 0.01, 0.1, 0.25])
def test_tpr_at_fpr_matches_scikit_learn_and_art(target):
    from art.metrics.privacy.worst_case_mia_score import get_roc_for_fpr

    scores, is_member = _scores(3, n=2000)
    ours = tpr_at_fpr(scores, is_member, target)
    ((art_fpr, art_tpr, _),) = get_roc_for_fpr(scores, is_member.astype(int), targeted_fpr=target)
    assert (ours.tpr.value, ours.achieved_fpr) == pytest.approx((art_tpr, art_fpr))
    fpr, tpr, _ = roc_curve(is_member, scores)
    assert ours.tpr.value == pytest.approx(tpr[fpr <= target].max())
    assert ours.resolved == (1000 * target >= 1)
    assert ours.tpr.ci_low <= ours.tpr.value <= ours.tpr.ci_high


def test_tpr_interval_is_clopper_pearson():
    estimate = clopper_pearson(3, 50)
    assert estimate.ci_low == pytest.approx(stats.beta.ppf(0.025, 3, 48))
    assert estimate.ci_high == pytest.approx(stats.beta.ppf(0.975, 4, 47))


def test_epsilon_lower_bound_is_zero_for_guessing_and_grows_with_separation():
    is_member = np.arange(2000) < 1000
    rng = np.random.default_rng(0)
    assert epsilon_lower_bound(rng.random(2000) < 0.5, is_member) == pytest.approx(0.0, abs=0.15)
    perfect = epsilon_lower_bound(is_member.copy(), is_member)
    # With no errors in 1000 + 1000 trials the Clopper-Pearson upper bound on each error rate is
    # 1 - 0.025 ** (1 / 1000), so epsilon >= log((1 - u) / u).
    u = 1 - 0.025 ** (1 / 1000)
    assert perfect == pytest.approx(np.log((1 - u) / u))


def test_null_audit_interval_contains_one_half_at_the_nominal_rate():
    """A trained model's outputs on two disjoint draws of held-out data: the AUC's 95% interval contains 0.5
    in about 95% of 60 seeds; accept down to 3 binomial standard deviations below."""
    from scipy.special import softmax
    from sklearn.datasets import load_digits

    from audit_core.config import TrainingRecipe
    from audit_core.targets import TorchTarget
    from audit_core.training import train_classifier

    x, y = load_digits(return_X_y=True)
    x = (x / 16).astype(np.float32)
    model = TorchTarget(train_classifier(x[:300], y[:300], 10, TrainingRecipe(epochs=60), seed=0))
    held_out = softmax(model.logits(x[300:]), axis=1)
    loss = np.log(held_out[np.arange(len(held_out)), y[300:]])
    seeds = 60
    covered = 0
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        pick = rng.choice(len(loss), size=400, replace=False)
        estimate = roc_auc(loss[pick], np.arange(400) < 200, rng=rng, n_bootstrap=400)
        covered += estimate.ci_low <= 0.5 <= estimate.ci_high
    assert covered >= seeds * 0.95 - 3 * np.sqrt(seeds * 0.95 * 0.05)


def test_a_threshold_calling_nobody_a_member_stays_finite():
    """Tied scores (e.g. confidences of exactly 1.0) split no better than 'nobody': a finite threshold."""
    scores = np.ones(6)
    is_member = np.array([True, False] * 3)
    threshold = best_balanced_accuracy_threshold(scores, is_member)
    assert np.isfinite(threshold) and not (scores >= threshold).any()


@pytest.mark.parametrize("seed", range(5))
def test_roc_points_equal_scikit_learns_roc_curve(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 400))
    scores = rng.integers(0, 12, n).astype(float) if seed % 2 else rng.normal(size=n)  # with and without ties
    is_member = rng.random(n) < 0.4
    is_member[:2] = [True, False]
    expected = roc_curve(is_member, scores, drop_intermediate=False)
    for got, want in zip(roc_points(scores, is_member), expected, strict=True):
        np.testing.assert_array_equal(got, want)

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from audit_core.metrics import (
    balanced_accuracy,
    best_balanced_accuracy_threshold,
    max_advantage,
    proportion,
    roc_auc,
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


def test_delong_interval_covers_the_true_auc_at_the_nominal_rate():
    """Binormal scores with a known AUC = Phi(shift / sqrt(2)); 200 seeds, 95% intervals."""
    shift, seeds = 0.5, 200
    true_auc = stats.norm.cdf(shift / np.sqrt(2))
    covered = sum(
        (e := roc_auc(*_scores(seed, n=300, shift=shift))).ci_low <= true_auc <= e.ci_high
        for seed in range(seeds)
    )
    # Rounding to 0.1 shifts the truth a little; allow the binomial spread of 200 draws at p = 0.95 (3 SD).
    assert covered >= seeds * 0.95 - 3 * np.sqrt(seeds * 0.95 * 0.05)


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

import numpy as np
import pytest
from scipy import stats

from audit_core.audit.analysis import ConditionEvaluation
from audit_core.audit.sanity import balanced_accuracy_bound, sanity_warnings, shared_records
from audit_core.data import AuditData, Split
from audit_core.stats.metrics import proportion
from tests.audit_core.byo import blobs


def _split(n: int, seed: int, prefix: str) -> Split:
    x, y = blobs(n, seed)
    return Split(x, y, np.array([f"{prefix}{i}" for i in range(n)]))


def _baseline(correct: np.ndarray) -> ConditionEvaluation:
    return ConditionEvaluation("undefended", "undefended", {}, proportion(correct), correct)


def _data(**parts: Split) -> AuditData:
    defaults = {
        "members": _split(300, 1, "m"),
        "non_members": _split(300, 2, "n"),
        "population": _split(600, 3, "p"),
        "test": _split(300, 4, "t"),
    }
    return AuditData.from_parts("blobs", {**defaults, **parts}, n_classes=None, sources={})


def test_a_sound_audit_gets_no_warning():
    data = _data()
    assert (
        sanity_warnings(data, _baseline(np.arange(300) % 10 < 9), data.test.labels, audited_non_members=300)
        == []
    )


def test_overlapping_parts_a_chance_level_target_and_too_few_points_are_each_one_sentence():
    members, non_members = _split(300, 1, "m"), _split(300, 2, "n")
    population = Split(  # 40 member records, renamed: found by content
        np.r_[members.features[:40], _split(560, 3, "p").features],
        np.r_[members.labels[:40], _split(560, 3, "p").labels],
        np.array([f"p{i}" for i in range(600)]),
    )
    test = non_members.subset(np.arange(50))  # the same records under the same ids
    data = _data(members=members, non_members=non_members, population=population, test=test)
    chance = np.bincount(test.labels).max() / 50
    correct = np.arange(50) < round(chance * 50)
    warnings = sanity_warnings(data, _baseline(correct), test.labels, audited_non_members=150)
    assert [w.split(" ")[:3] for w in warnings[:2]] == [["50", "of", "50"], ["40", "of", "600"]]
    assert "are also non-members" in warnings[0] and "are members" in warnings[1]
    assert (
        warnings[2].startswith(f"The target's test accuracy {correct.mean():.3f}")
        and "within chance" in warnings[2]
    )
    assert warnings[3] == (
        "Only 150 non-members are audited: TPR at 1% FPR needs at least 200 (100 per cross-fitting half) "
        "to be resolved; its values are marked †."
    )
    assert all("\n" not in w for w in warnings) and shared_records(members, members) == 300


def _imbalanced_test(n: int = 800, rare: float = 0.05) -> Split:
    """Test records of two classes, ``rare`` of them of class 1 (fraud-like)."""
    labels = (np.arange(n) < round(rare * n)).astype(int)
    return Split(
        np.random.default_rng(5).normal(size=(n, 8)).astype(np.float32),
        labels,
        np.array([f"t{i}" for i in range(n)]),
    )


def _chance_warned(data: AuditData, correct: np.ndarray) -> bool:
    warnings = sanity_warnings(data, _baseline(correct), data.test.labels, audited_non_members=300)
    return any("within chance" in w for w in warnings)


def test_the_balanced_accuracy_bound_is_the_mean_of_bonferroni_clopper_pearson_bounds():
    labels = np.r_[np.zeros(90, int), np.ones(10, int), np.full(20, 2)]
    correct = np.r_[np.arange(90) < 80, np.arange(10) < 3, np.arange(20) < 19]
    value, low, classes = balanced_accuracy_bound(labels, correct, error=0.03)
    lows = [stats.beta.ppf(0.01, k, n - k + 1) for k, n in ((80, 90), (3, 10), (19, 20))]  # 0.03 / 3 each
    assert classes == 3
    assert value == pytest.approx((80 / 90 + 3 / 10 + 19 / 20) / 3, abs=1e-15)
    assert low == pytest.approx(np.mean(lows), abs=1e-12)


def test_chance_is_told_for_a_model_that_learned_nothing_but_not_for_one_that_finds_the_rare_class():
    """Fraud-like test data (5% of 800 records in class 1). A model whose predictions do not depend on the
    label (class 1 drawn for 10% of records, or never) is told to be at chance in at least 95% of simulated
    audits (less 3 standard errors); a model that finds 30% of the rare class at the cost of 0.5% of the rest,
    whose accuracy lies within the most frequent label's rate, is shown to have learned (the accuracy check
    alone told chance for it)."""
    test = _imbalanced_test()
    data = _data(test=test)
    rng = np.random.default_rng(11)
    runs, rare = 400, test.labels == 1
    for rate in (0.1, 0.0):
        told = sum(
            _chance_warned(data, (rng.random(800) < rate).astype(int) == test.labels) for _ in range(runs)
        )
        assert told / runs >= 0.95 - 3 * np.sqrt(0.05 * 0.95 / runs), (rate, told)
    accuracy_alone, learned = 0, 0
    for _ in range(runs):
        correct = np.where(rare, rng.random(800) < 0.3, rng.random(800) >= 0.005)
        accuracy_alone += proportion(correct).ci_low <= 0.95
        learned += not _chance_warned(data, correct)
    assert accuracy_alone / runs >= 0.5 and learned / runs >= 0.95, (accuracy_alone, learned)

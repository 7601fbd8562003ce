import numpy as np

from audit_core.audit.analysis import ConditionEvaluation
from audit_core.audit.sanity import sanity_warnings, shared_records
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
    assert sanity_warnings(data, _baseline(np.arange(300) % 10 < 9), audited_non_members=300) == []


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
    warnings = sanity_warnings(data, _baseline(correct), audited_non_members=150)
    assert [w.split(" ")[:3] for w in warnings[:2]] == [["50", "of", "50"], ["40", "of", "600"]]
    assert "are also non-members" in warnings[0] and "are members" in warnings[1]
    assert (
        warnings[2].startswith(f"The target's test accuracy {correct.mean():.3f}")
        and "within chance" in warnings[2]
    )
    assert warnings[3] == (
        "Only 150 non-members are audited: TPR at 1% FPR needs at least 200 (100 per cross-fitting half) "
        "to be resolved."
    )
    assert all("\n" not in w for w in warnings) and shared_records(members, members) == 300

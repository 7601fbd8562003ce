"""QMIA against its defining property and against a global threshold where record difficulty varies."""

import numpy as np
from scipy.stats import norm

from audit_core.attacks import QMIA, AttackInput, CalibrationData
from audit_core.stats.metrics import roc_auc

FPR = 0.1


def released(n: int, shift: float, seed: int) -> AttackInput:
    """Binary outputs whose true-class logit is ``3 x_0 + shift + N(0, 1)``: record difficulty set by x_0."""
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(n, 4))
    phi = 3.0 * features[:, 0] + shift + rng.normal(size=n)
    labels = rng.integers(0, 2, size=n)
    p_true = 1.0 / (1.0 + np.exp(-phi))
    probs = np.where(labels[:, None] == np.arange(2), p_true[:, None], 1.0 - p_true[:, None])
    return AttackInput(probs, labels, features)


def test_non_members_are_flagged_at_the_target_fpr():
    """The fraction of fresh non-members at or above the threshold is the FPR, within a 99% normal interval
    whose variance adds the held-out quantile's (m points) to the flagged count's (n points)."""
    population, non_members = released(2000, 0.0, seed=1), released(2000, 0.0, seed=2)
    attack = QMIA(fpr=FPR).fit(CalibrationData(target_population=population))
    flagged = attack.predict(non_members).mean()
    held_out = round(attack.holdout * len(population))
    tolerance = norm.ppf(0.995) * np.sqrt(FPR * (1 - FPR) * (1 / len(non_members) + 1 / held_out))
    assert abs(flagged - FPR) < tolerance


def test_per_record_quantiles_beat_a_global_threshold_where_difficulty_varies():
    """Members' logit is one unit above non-members like them; the spread across records (sd 3) hides that
    from a global threshold (AUC about Phi(1 / sqrt(20)) = 0.59) but not from QMIA (about Phi(1/sqrt(2)))."""
    population = released(2000, 0.0, seed=1)
    members, non_members = released(1000, 1.0, seed=3), released(1000, 0.0, seed=4)
    audit = AttackInput(
        np.vstack([members.probs, non_members.probs]),
        np.r_[members.labels, non_members.labels],
        np.vstack([members.features, non_members.features]),
    )
    is_member = np.arange(2000) < 1000
    qmia = roc_auc(QMIA(fpr=FPR).fit(CalibrationData(target_population=population)).score(audit), is_member)
    global_threshold = roc_auc(np.log(audit.probs[np.arange(2000), audit.labels]), is_member)
    assert qmia.ci_low > global_threshold.ci_high
    assert (
        abs(global_threshold.value - norm.cdf(1 / np.sqrt(20)))
        < global_threshold.ci_high - global_threshold.value
    )


def released_table(n: int, shift: float, seed: int) -> AttackInput:
    """A table's rows (an object array): a number ``x``, a text ``group`` of six whose true-class logit
    offsets span -5 to 5 (record difficulty set by a text field), and a unique text id; the logit is the
    group's offset + ``shift`` + N(0, 1)."""
    rng = np.random.default_rng(seed)
    groups = rng.integers(0, 6, size=n)
    phi = np.linspace(-5.0, 5.0, 6)[groups] + shift + rng.normal(size=n)
    labels = rng.integers(0, 2, size=n)
    p_true = 1.0 / (1.0 + np.exp(-phi))
    probs = np.where(labels[:, None] == np.arange(2), p_true[:, None], 1.0 - p_true[:, None])
    rows = np.empty((n, 3), dtype=object)
    rows[:, 0] = rng.normal(size=n)
    rows[:, 1] = np.array(["north", "south", "east", "west", "up", "down"])[groups]
    rows[:, 2] = [f"{seed}-{i}" for i in range(n)]
    return AttackInput(probs, labels, rows)


def test_a_tables_text_column_sets_the_quantile_and_an_id_column_is_left_out():
    """As above with difficulty in a text column: QMIA reads it as categories and beats the global
    threshold; the id column (a value per record) is not read, and a group the population never had reads
    as missing rather than failing."""
    population = released_table(2000, 0.0, seed=1)
    members, non_members = released_table(1000, 1.0, seed=3), released_table(1000, 0.0, seed=4)
    non_members.features[:5, 1] = "unheard-of"
    audit = AttackInput(
        np.vstack([members.probs, non_members.probs]),
        np.r_[members.labels, non_members.labels],
        np.vstack([members.features, non_members.features]),
    )
    is_member = np.arange(2000) < 1000
    attack = QMIA(fpr=FPR).fit(CalibrationData(target_population=population))
    assert list(attack.fields_.categories) == [1] and attack.fields_.columns.tolist() == [True, False, False]
    qmia = roc_auc(attack.score(audit), is_member)
    global_threshold = roc_auc(np.log(audit.probs[np.arange(2000), audit.labels]), is_member)
    assert qmia.ci_low > global_threshold.ci_high, (qmia, global_threshold)

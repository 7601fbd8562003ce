"""The risk tier in words and tables: a tier above "low" that no attack is shown to reach says so."""

import numpy as np
import pandas as pd

from audit_core.audit.analysis import METRIC_COLUMNS, analyse_scores, metric_row
from audit_core.results.risk import UNSHOWN_MARK, MeasuredAuc, risk_statement, shown_above_chance
from audit_core.results.summary import measured_aucs, strongest_per_condition
from audit_core.stats.metrics import UNRESOLVED_MARK
from audit_core.stats.names import Metric

ATTACKS = [f"attack{i}" for i in range(8)]


def _metrics(shifts: dict[str, float], seed: int, points: int = 150) -> pd.DataFrame:
    """metrics.parquet rows of conditions whose 8 attacks score members N(shift, 1), non-members N(0, 1)
    (``points`` of each; naive and adaptive knowledge give the same scores, as they do undefended)."""
    rng = np.random.default_rng(seed)
    is_member = np.r_[np.ones(points, bool), np.zeros(points, bool)]
    frames = []
    for condition, shift in shifts.items():
        for attack in ATTACKS:
            score = rng.normal(size=2 * points) + shift * is_member
            for knowledge in ("naive", "adaptive"):
                frames.append(
                    pd.DataFrame(
                        {"condition": condition, "knowledge": knowledge, "attack": attack}
                        | {"is_member": is_member, "score": score}
                    )
                )
    metrics = analyse_scores(pd.concat(frames), seed=seed, bootstrap=False)
    accuracy = [(c, c, None, None, *metric_row(Metric.TEST_ACCURACY, 0.9)) for c in shifts]
    return pd.concat([metrics, pd.DataFrame(accuracy, columns=METRIC_COLUMNS)], ignore_index=True)


def test_a_tier_no_attack_is_shown_to_reach_is_marked_and_a_shown_one_is_not():
    # the first seed whose null condition's strongest AUC lands above "low" (0.55): noise, not leakage
    for seed in range(50):
        metrics = _metrics({"undefended": 0.0, "leaky": 0.8}, seed)
        rows = {r["name"]: r for r in strongest_per_condition(metrics)}
        if rows["undefended"]["tier"] != "low":
            break
    assert rows["undefended"]["tier"] == "moderate" + UNSHOWN_MARK and rows["leaky"]["tier"] == "high"
    aucs = metrics[(metrics.metric == Metric.AUC) & (metrics.condition == "undefended")]
    measured = measured_aucs(aucs, metrics)
    assert len(measured) == 16 and len(set(measured)) == 8  # each attack's AUC under two knowledges
    tier, meaning = risk_statement(measured)
    assert tier == "moderate" and "the largest of 8 distinct noisy estimates" in meaning
    assert meaning.startswith("But no attack is shown better than chance")


def test_the_same_auc_under_two_knowledges_is_one_test():
    # 0.59 on 150/150 points: above the null's bound at 0.05 / 8, not at 0.05 / 16
    same = [MeasuredAuc(0.59, 150, 150)] + [MeasuredAuc(0.5 + i / 1000, 150, 150) for i in range(7)]
    assert shown_above_chance(same) and shown_above_chance(same + same)
    others = same + [MeasuredAuc(0.4 + i / 1000, 150, 150) for i in range(8)]
    assert not shown_above_chance(others)


def test_a_tpr_at_1pct_fpr_that_too_few_non_members_cannot_resolve_is_marked_in_the_table():
    # 1% FPR needs 100 non-members in each cross-fitting half: 199 leave 99 in one, 200 leave 100 in each
    for points, mark in ((199, UNRESOLVED_MARK), (200, "")):
        metrics = _metrics({"undefended": 0.0, "leaky": 0.8}, seed=1, points=points)
        for row in strongest_per_condition(metrics):
            tpr = metrics[
                (metrics.condition == row["name"])
                & (metrics.attack == row["attack"])
                & (metrics.metric == Metric.TPR_AT_FPR_0_01)
            ].value.iloc[0]
            assert row["tpr"] == f"{tpr:.3f}{mark}"

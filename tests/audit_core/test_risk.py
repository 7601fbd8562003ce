"""The risk tier in words and tables: a tier above "low" that no attack is shown to reach says so."""

import numpy as np
import pandas as pd
from scipy import stats

from audit_core.audit.analysis import METRIC_COLUMNS, analyse_scores, metric_row
from audit_core.results.risk import UNSHOWN_MARK, MeasuredAuc, risk_statement, shown_above_chance
from audit_core.results.summary import conclusion, measured_aucs, strongest_per_condition
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


def _classed(classes: list[tuple[int, float]], rng: np.random.Generator) -> pd.DataFrame:
    """Undefended scores of one attack, per class ``(points, shift)``: members N(shift, 1), others N(0, 1)."""
    frames = [
        pd.DataFrame(
            {
                "condition": "undefended",
                "knowledge": "naive",
                "attack": "rmia",
                "label": label,
                "is_member": np.r_[np.ones(points, bool), np.zeros(points, bool)],
                "score": np.r_[rng.normal(shift, 1, points), rng.normal(0, 1, points)],
            }
        )
        for label, (points, shift) in enumerate(classes)
    ]
    return pd.concat(frames, ignore_index=True)


def _ending(scores: pd.DataFrame, names: list[str] | None = None):
    metrics = analyse_scores(scores, bootstrap=False)
    accuracy = pd.DataFrame(
        [("undefended", "undefended", None, None, *metric_row(Metric.TEST_ACCURACY, 0.9))],
        columns=METRIC_COLUMNS,
    )
    manifest = {
        "model_cache": {"reference": {"trained": 0, "reused": 0}},
        "config": {"data": {"classes": names}},
    }
    return conclusion(pd.concat([metrics, accuracy], ignore_index=True), manifest)


def test_a_minority_class_exposed_beyond_the_whole_audit_is_named_and_alike_classes_are_not():
    rng = np.random.default_rng(2)
    exposed = _ending(_classed([(900, 0.0), (40, 3.0)], rng), names=["legit", "fraud"]).exposed_class
    assert exposed.startswith("Most exposed class: fraud (40 members, 40 non-members), rmia AUC ")
    assert (
        exposed.endswith("one of 2 classes).")
        and "over all records even at the bottom of its 97.5%" in exposed
    )
    # four classes alike (true AUC 0.7 each): named in at most 5% of 300 audits
    shift, runs = np.sqrt(2) * stats.norm.ppf(0.7), 300
    named = sum(_ending(_classed([(100, shift)] * 4, rng)).exposed_class is not None for _ in range(runs))
    assert named / runs <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / runs)

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from audit_core.audit.analysis import (
    analyse_attack,
    analyse_condition,
    analyse_scores,
    worst_case,
    worst_case_row,
)
from audit_core.audit.conditions import evaluate_condition
from audit_core.audit.evaluation import score_condition
from audit_core.audit.run import gather_inputs
from audit_core.config import AuditConfig
from audit_core.core.errors import AuditInputError
from audit_core.defenses import DynaNoise, Undefended
from audit_core.results.tables import AuditResult
from audit_core.stats.metrics import auc_score_interval
from audit_core.stats.names import FPR_TARGETS, Metric

ATTACKS = ["loss", "lira_online", "label_only"]
KNOWLEDGE = ["naive", "adaptive", "averaging"]
SEED = 5
#: The README's example of analysing another tool's scores, run verbatim by a test below.
README = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
README_SNIPPET = (
    README.split("### Analysing another tool's scores\n", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
)
#: Metrics of a whole condition rather than of one attack's scores.
CONDITION_METRICS = {
    Metric.TEST_ACCURACY,
    Metric.SKIPPED,
    Metric.QUERIES_TO_REGAIN,
    Metric.MIDPUT,
    Metric.ACCURACY_DROP,
    Metric.ANSWERS_LOST,
    Metric.ANSWERS_GAINED,
    Metric.TEST_POINTS,
    Metric.PUT,
}
THRESHOLD_METRICS = {Metric.BALANCED_ACCURACY, Metric.PRECISION, Metric.EPSILON_LOWER_BOUND, Metric.THRESHOLD}


@pytest.fixture(scope="module")
def signals():
    config = AuditConfig(cache_dir=None, reference_models=4, recipe={"epochs": 30})
    return gather_inputs(config).signals


@pytest.fixture(scope="module")
def result(signals):
    evaluations = [
        evaluate_condition(signals, d, ATTACKS, seed=SEED, knowledge=KNOWLEDGE, max_queries=4)
        for d in (Undefended(), DynaNoise())
    ]
    ids = np.concatenate([signals.members.ids, signals.non_members.ids])
    return AuditResult("t", evaluations, ids, signals.audit_labels, signals.is_member, provenance={})


def _attack_metrics(metrics: pd.DataFrame) -> pd.DataFrame:
    return metrics[~metrics.metric.isin(CONDITION_METRICS)].reset_index(drop=True)


def _with_run_details(scores: pd.DataFrame, metrics: pd.DataFrame) -> pd.DataFrame:
    """The scores table with each attack's threshold, query count and defense, read off the metrics table
    (what another tool would supply beside its scores)."""
    key = ["condition", "knowledge", "attack"]
    auc = metrics[(metrics.metric == Metric.AUC) & (metrics.slice == "all")]
    details = auc[[*key, "defense"]].assign(queries=auc.note.str.split().str[0].astype(int))
    thresholds = metrics[metrics.metric == Metric.THRESHOLD][[*key, "value"]]
    details = details.merge(thresholds.rename(columns={"value": "threshold"}), on=key)
    return scores.merge(details, on=key, how="left")


def test_analysing_a_runs_scores_table_gives_its_metric_rows(result):
    """Every row, but for the settings the attacks chose when fitted (LiRA's spread on the references,
    the loss attack's side on the shadow), which scores do not carry."""
    metrics = result.metrics_table()
    scores = _with_run_details(result.scores_table(), metrics)
    expected = _attack_metrics(metrics)
    chosen = expected.note.str.contains("; chosen when fitted: ", regex=False, na=False)
    assert set(expected.attack[chosen]) == {"lira_online", "loss"}  # the attacks of the run that choose
    expected["note"] = expected.note.str.replace(r"; chosen when fitted: [^;]*", "", regex=True)
    pd.testing.assert_frame_equal(analyse_scores(scores, seed=SEED), expected)


def test_without_thresholds_the_decision_metrics_are_left_out(result):
    metrics = result.metrics_table()
    analysed = analyse_scores(result.scores_table(), seed=SEED)
    assert not analysed.metric.isin(THRESHOLD_METRICS).any()
    expected = _attack_metrics(metrics)
    expected = expected[~expected.metric.isin(THRESHOLD_METRICS)].drop(columns=["defense", "note"])
    expected = expected.reset_index(drop=True)
    analysed = analysed.drop(columns=["defense", "note"])
    pd.testing.assert_frame_equal(analysed, expected)


def test_aucs_agree_with_scikit_learn(result):
    scores = result.scores_table()
    analysed = analyse_scores(scores, seed=SEED)
    auc = analysed[analysed.metric == Metric.AUC].set_index(["condition", "knowledge", "attack", "slice"])
    for (condition, knowledge, attack), group in scores.groupby(["condition", "knowledge", "attack"]):
        expected = roc_auc_score(group.is_member, group.score)
        row = auc.loc[(condition, knowledge, attack, "all")]
        assert row.value == pytest.approx(expected, abs=1e-12)
        assert row.ci_low < row.value < row.ci_high
        in_class = group.label == 3
        per_class = roc_auc_score(group.is_member[in_class], group.score[in_class])
        assert auc.loc[(condition, knowledge, attack, "class=3")].value == pytest.approx(per_class, abs=1e-12)


def test_point_estimates_skip_only_the_bootstrap(signals):
    scores = score_condition(signals, DynaNoise(), ["loss"], seed=SEED, knowledge=["adaptive"])
    full = analyse_condition(scores, seed=SEED).outcomes[0]
    point = analyse_condition(scores, seed=SEED, bootstrap=False).outcomes[0]
    assert (
        point.auc.value == full.auc.value and math.isnan(point.auc.ci_low) and math.isnan(point.auc.ci_high)
    )
    assert point.tpr_at_fpr == full.tpr_at_fpr and point.balanced_accuracy == full.balanced_accuracy
    assert point.advantage == full.advantage and point.per_class_auc == full.per_class_auc


def test_the_tuners_analysis_leaves_out_only_the_per_class_aucs(signals):
    scores = score_condition(signals, DynaNoise(), ["loss", "confidence"], seed=SEED, knowledge=["adaptive"])
    full = analyse_condition(scores, seed=SEED, bootstrap=False)
    lean = analyse_condition(scores, seed=SEED, bootstrap=False, per_class=False)
    assert all(o.per_class_auc for o in full.outcomes) and not any(o.per_class_auc for o in lean.outcomes)
    for kept, whole in zip(lean.outcomes, full.outcomes, strict=True):
        assert (kept.auc.value, kept.balanced_accuracy, kept.advantage, kept.precision) == (
            whole.auc.value,
            whole.balanced_accuracy,
            whole.advantage,
            whole.precision,
        )
        assert kept.tpr_at_fpr == whole.tpr_at_fpr and kept.epsilon_lower_bound == whole.epsilon_lower_bound


def test_a_scores_table_it_cannot_analyse_is_refused_in_one_sentence():
    frame = pd.DataFrame({"condition": "c", "attack": "a", "is_member": [True, False], "score": [1.0, 0.0]})
    with pytest.raises(AuditInputError, match="no column 'knowledge'"):
        analyse_scores(frame)
    with pytest.raises(AuditInputError, match="c, k, a need at least one member and one non-member"):
        analyse_scores(frame.assign(knowledge="k", is_member=True))
    with pytest.raises(AuditInputError, match="more than one threshold"):
        analyse_scores(frame.assign(knowledge="k", threshold=[0.5, 0.6]))


def test_worst_case_is_the_first_maximal_outcome(result):
    baseline = result.baseline
    assert worst_case(baseline.outcomes) is max(baseline.outcomes, key=lambda o: o.auc.value)
    adaptive = [o for o in result.defended[0].outcomes if o.knowledge == "adaptive"]
    top = worst_case(adaptive, Metric.TPR_AT_FPR_0_01)
    assert top.tpr_at(0.01).tpr.value == max(o.tpr_at(0.01).tpr.value for o in adaptive)
    assert worst_case(result.defended[0].outcomes, knowledge="adaptive") is max(
        adaptive, key=lambda o: o.auc.value
    )
    tied = [replace(o, auc=baseline.outcomes[0].auc) for o in baseline.outcomes[:3]]
    assert worst_case(tied) is tied[0]
    assert worst_case(tied, attack=tied[1].attack, knowledge=tied[1].knowledge) is tied[1]
    assert worst_case([]) is None


def test_worst_case_row_is_the_first_maximal_row_ignoring_nan():
    rows = pd.DataFrame({"attack": list("abcd"), "value": [0.6, math.nan, 0.7, 0.7]}, index=[3, 3, 1, 0])
    assert worst_case_row(rows).attack == "c"
    assert worst_case_row(rows.iloc[:2]).attack == "a"
    assert worst_case_row(rows.iloc[1:2]) is None and worst_case_row(rows.iloc[:0]) is None


def test_a_threshold_free_outcome_has_no_decision_metrics(signals):
    scores = score_condition(signals, Undefended(), ["loss"], seed=SEED, knowledge=["naive"])
    outcome = analyse_attack(
        replace(scores.scores[0], threshold=None), scores.is_member, None, seed=SEED, bootstrap=False
    )
    assert outcome.balanced_accuracy is None and outcome.precision is None and outcome.per_class_auc == {}


def test_metric_names_are_the_table_strings(result):
    assert Metric.AUC == "auc" and Metric.tpr_at_fpr(0.01) is Metric.TPR_AT_FPR_0_01
    assert [Metric.tpr_at_fpr(f) for f in FPR_TARGETS] and [Metric.achieved_fpr_at(f) for f in FPR_TARGETS]
    assert set(result.metrics_table().metric) <= set(Metric)


def test_the_readme_snippet_analyses_another_tools_scores(result, tmp_path, monkeypatch, capsys):
    scores = result.scores_table()
    scores.drop(columns=["record"]).to_csv(tmp_path / "scores.csv", index=False)
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(README_SNIPPET, namespace)
    expected = analyse_scores(scores)
    pd.testing.assert_frame_equal(namespace["metrics"], expected, rtol=1e-12)
    assert "[18 rows x 10 columns]" in capsys.readouterr().out  # 2 conditions x 3 knowledge x 3 attacks


def test_separated_members_get_the_score_interval_not_the_bootstraps_zero_width_one():
    """Every member scored above every non-member (30/20 points), and per class (15/10 each): every
    bootstrap replicate is separated too, so its interval would be [1, 1]; the AUC row carries Newcombe's
    score interval instead, and says so."""
    members, non_members = np.arange(30) + 100.0, np.arange(20) * 1.0
    frame = pd.DataFrame(
        {
            "condition": "undefended",
            "knowledge": "naive",
            "attack": "loss",
            "label": np.r_[np.arange(30) % 2, np.arange(20) % 2],
            "is_member": np.r_[np.ones(30, bool), np.zeros(20, bool)],
            "score": np.r_[members, non_members],
        }
    )
    auc = analyse_scores(frame).query("metric == 'auc'").set_index("slice")
    expected = auc_score_interval(1.0, 30, 20)
    assert auc.loc["all", "value"] == 1.0 and auc.loc["all", "ci_low"] == expected.ci_low < 0.99
    assert auc.loc["all", "note"].endswith(
        "score interval (Newcombe): members and non-members are separated, no bootstrap spread"
    )
    assert auc.loc["class=0", "ci_low"] == auc_score_interval(1.0, 15, 10).ci_low

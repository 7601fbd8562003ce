import math
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest

from audit_core.config import AuditConfig
from audit_core.core.errors import AuditInputError, ConfigError
from audit_core.gate.check import GatePolicy, check_gate, check_policy, load_policy, read_metrics
from audit_core.gate.reports import junit_xml, markdown_summary
from audit_core.results.tables import METRIC_COLUMNS

DEFENDED = "dynanoise(sigma0_sq=0.3, lam=2, T=10)"
NAN = math.nan


def _metrics(rows: list[tuple]) -> pd.DataFrame:
    """A metrics table from (condition, knowledge, attack, metric, value, ci_low, ci_high) rows."""
    return pd.DataFrame(
        [
            (c, "undefended" if c == "undefended" else "dynanoise", k, a, "all", m, v, lo, hi, None)
            for c, k, a, m, v, lo, hi in rows
        ],
        columns=METRIC_COLUMNS,
    )


METRICS = _metrics(
    [
        ("undefended", None, None, "test_accuracy", 0.90, 0.88, 0.92),
        (DEFENDED, None, None, "test_accuracy", 0.89, 0.86, 0.91),
        ("undefended", "naive", "loss", "auc", 0.70, 0.65, 0.75),
        ("undefended", "adaptive", "loss", "auc", 0.70, 0.65, 0.75),
        (DEFENDED, "naive", "loss", "auc", 0.55, 0.50, 0.60),
        (DEFENDED, "adaptive", "loss", "auc", 0.58, 0.53, 0.63),
        (DEFENDED, "adaptive", "rmia", "auc", 0.57, 0.55, 0.59),
        (DEFENDED, "naive", "loss", "advantage", 0.20, NAN, NAN),
        (DEFENDED, "adaptive", "loss", "advantage", 0.25, NAN, NAN),
        (DEFENDED, "adaptive", "loss", "tpr_at_fpr_0.01", 0.02, 0.01, 0.08),
    ]
)


def _rule(verdict, name):
    return next(r for r in verdict.rules if r.rule == name)


def test_the_upper_bound_decides_by_default_and_the_verdict_says_so():
    verdict = check_gate(GatePolicy(max_auc=0.6), METRICS)
    rule = _rule(verdict, "max_auc")
    assert not verdict.passed and rule.measurement.decided == 0.63 and rule.measurement.point == 0.58
    assert rule.measurement.where == f"attack loss, adaptive attacker, {DEFENDED}"
    assert "decided on the upper bound of the 95% interval" in verdict.headline
    on_points = check_gate(GatePolicy(max_auc=0.6, decide_on="point"), METRICS)
    assert on_points.passed and "decided on the point estimate" in on_points.headline


def test_knowledge_condition_and_attacks_select_the_worst_case():
    naive = check_gate(GatePolicy(max_auc=0.6, knowledge="naive"), METRICS)
    assert naive.passed and _rule(naive, "max_auc").measurement.decided == 0.60
    undefended = check_gate(GatePolicy(max_auc=0.6, condition="undefended"), METRICS)
    assert _rule(undefended, "max_auc").measurement.decided == 0.75
    rmia = check_gate(GatePolicy(max_auc=0.6, attacks=["rmia"]), METRICS)
    assert rmia.passed and _rule(rmia, "max_auc").measurement.where.startswith("attack rmia")


def test_metrics_without_an_interval_fall_back_to_the_point_and_say_so():
    rule = _rule(check_gate(GatePolicy(max_advantage=0.3), METRICS), "max_advantage")
    assert rule.passed and rule.measurement.decided == 0.25
    assert rule.measurement.basis == "point estimate (the metric has no interval)"


def test_the_accuracy_drop_bound_combines_both_intervals():
    rule = _rule(check_gate(GatePolicy(max_accuracy_drop=0.05), METRICS), "max_accuracy_drop")
    assert rule.measurement.decided == pytest.approx(0.92 - 0.86) and not rule.passed
    assert rule.measurement.point == pytest.approx(0.01)
    point = _rule(
        check_gate(GatePolicy(max_accuracy_drop=0.05, decide_on="point"), METRICS), "max_accuracy_drop"
    )
    assert point.passed


def test_regressions_against_a_previous_run_are_reported_and_can_fail_the_gate():
    previous = METRICS.assign(ci_high=METRICS.ci_high - 0.05)
    reported = check_gate(GatePolicy(max_auc=0.7), METRICS, previous)
    assert reported.passed and reported.compared
    [regression] = reported.regressions
    assert regression.delta == pytest.approx(0.05)
    assert "+0.0500 (regression)" in markdown_summary(reported, "r")
    strict = check_gate(GatePolicy(max_auc=0.7, max_regression=0.01), METRICS, previous)
    assert not strict.passed and not _rule(strict, "max_regression").passed
    unrelated = check_gate(GatePolicy(max_auc=0.7), METRICS, METRICS[METRICS.metric != "auc"])
    assert unrelated.regressions == [] and "none of the limited metrics" in markdown_summary(unrelated, "r")


def test_junit_has_one_test_case_per_rule_and_a_failure_for_each_broken_one():
    verdict = check_gate(GatePolicy(max_auc=0.6, max_tpr_at_1pct_fpr=0.1), METRICS)
    root = ET.fromstring(junit_xml(verdict, "demo"))
    suite = root.find("testsuite")
    assert (suite.get("tests"), suite.get("failures")) == ("2", "1")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert cases["max_auc"].find("failure").get("message").startswith("max_auc: 0.6300 > 0.6")
    assert cases["max_tpr_at_1pct_fpr"].find("failure") is None
    assert suite.find("properties/property").get("value") == "upper_bound"


def test_a_rule_without_rows_is_bad_input():
    with pytest.raises(AuditInputError, match="no rows for policy rule 'max_auc'"):
        check_gate(GatePolicy(max_auc=0.6, knowledge="averaging"), METRICS)


@pytest.mark.parametrize(
    ("yaml_text", "sentence"),
    [
        ("max_auc: 2\n", "field 'max_auc' = 2 is invalid"),
        ("decide_on: median\n", "field 'decide_on' = 'median' is invalid"),
        ("condition: defended\n", "sets no limit; expected at least one of max_auc"),
        ("{max_auc: 0.6, attacks: [lira2]}\n", "unknown attack 'lira2'"),
        ("max_aux: 0.6\n", "unknown field 'max_aux'; check its spelling against the GatePolicy fields"),
        ("- 1\n", "expected a mapping of GatePolicy fields, got list"),
    ],
)
def test_invalid_policies_get_one_sentence_naming_the_field(tmp_path, yaml_text, sentence):
    path = tmp_path / "policy.yaml"
    path.write_text(yaml_text)
    with pytest.raises(ConfigError) as caught:
        load_policy(path)
    message = str(caught.value)
    assert message.startswith(str(path)) and sentence in message and "\n" not in message


@pytest.mark.parametrize(
    ("policy", "config", "sentence"),
    [
        ({"knowledge": "averaging"}, {"knowledge": ["naive"]}, "Policy knowledge 'averaging' is not run"),
        ({"attacks": ["rmia"]}, {"attacks": ["loss"]}, "Policy attack 'rmia' is not run by the config"),
        ({}, {"defenses": []}, "checks a defended condition, but the config lists no defenses"),
    ],
)
def test_a_policy_must_ask_for_numbers_the_config_produces(policy, config, sentence):
    with pytest.raises(ConfigError, match=sentence):
        check_policy(GatePolicy(max_auc=0.6, **policy), AuditConfig(**config))
    check_policy(GatePolicy(max_auc=0.6, condition="undefended"), AuditConfig(defenses=[]))


def test_read_metrics_accepts_only_dynaudit_metrics_tables(tmp_path):
    METRICS.to_parquet(tmp_path / "metrics.parquet")
    assert read_metrics(tmp_path / "metrics.parquet").equals(METRICS)
    METRICS.drop(columns="ci_high").to_parquet(tmp_path / "other.parquet")
    with pytest.raises(AuditInputError, match="has no column 'ci_high'"):
        read_metrics(tmp_path / "other.parquet")
    (tmp_path / "text.parquet").write_text("not parquet")
    with pytest.raises(AuditInputError, match="is not a readable Parquet file"):
        read_metrics(tmp_path / "text.parquet")


def test_the_shipped_policy_fits_the_shipped_demo_config():
    policy = load_policy(Path(__file__).parents[2] / "policies" / "ci.yaml")
    check_policy(policy, AuditConfig())
    assert policy.limits == {
        "max_auc": 0.6,
        "max_advantage": 0.25,
        "max_tpr_at_1pct_fpr": 0.05,
        "max_accuracy_drop": 0.05,
    }
    assert policy.decide_on == "upper_bound" and policy.max_regression == 0.02

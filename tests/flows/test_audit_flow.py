import json

import pandas as pd
import pyarrow.parquet as pq
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

from audit_core.audit.run import run_audit
from audit_core.config import AuditConfig
from audit_core.defenses import DynaNoise
from flows.audit import audit

# These tests check the flow's mechanics, not a choice: six trials on a tuning test set of 75 records (one
# record moves the accuracy by 0.013) need a budget that no trial's few flipped answers make a coin flip.
BUDGET = 0.2


def test_audit_flow_completes_and_publishes_a_summary_artifact(prefect_api_url, tmp_path):
    config = AuditConfig(
        run_name="flow_test",
        output_dir=tmp_path,
        cache_dir=tmp_path / "cache",
        recipe={"epochs": 40},
        policy={"max_auc": 0.99},
    )
    state = audit(config, return_state=True)
    assert state.is_completed(), state.message
    run_dir = state.result()
    assert (
        run_dir.parent == tmp_path / "flow_test" and (tmp_path / "flow_test" / "latest").resolve() == run_dir
    )
    metrics = pq.read_table(run_dir / "metrics.parquet").to_pandas()
    assert set(metrics.condition) == {"undefended", "dynanoise(sigma0_sq=0.3, lam=2, T=10)"}
    assert not list(run_dir.parent.glob(".staging@*")), "staging folders must not survive a completed run"

    keys = ["audit-flow-test", "audit-metrics-flow-test", "audit-report-flow-test"]
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=keys)))
    by_key = {a.key: a for a in artifacts}
    assert set(by_key) == set(keys)
    summary = by_key["audit-flow-test"].data
    verdict = json.loads((run_dir / "manifest.json").read_text())["verdict"]
    assert f"**Verdict: {verdict['headline']}**" in summary and verdict["headline"].startswith("PASSED")
    assert (
        "| condition | attacker | accuracy | strongest attack | AUC [95% CI] | TPR@1%FPR | MIDPUT |"
        in summary
    )
    assert "| undefended | — |" in summary and "| dynanoise@paper | naive |" in summary
    assert f"Full report: `{(run_dir / 'report.html').resolve()}` on host" in summary
    assert (
        by_key["audit-metrics-flow-test"].type == "table"
        and "tpr_at_fpr_0.01" in by_key["audit-metrics-flow-test"].data
    )
    report = by_key["audit-report-flow-test"]
    assert (run_dir / "report.html").resolve().as_uri() in report.data
    assert "a local file" in report.description


def test_audit_flow_with_tune_adds_the_tuned_condition_and_reports_on_the_evaluation_split(
    prefect_api_url, tmp_path
):
    config = AuditConfig(
        run_name="tuned",
        output_dir=tmp_path,
        cache_dir=tmp_path / "cache",
        recipe={"epochs": 40},
        reference_models=4,
        tune={"n_trials": 6, "baselines": False, "budget": BUDGET},
    )
    state = audit(config, return_state=True)
    assert state.is_completed(), state.message
    run_dir = state.result()
    params = json.loads((run_dir / "dynanoise-params.json").read_text())
    tuned = DynaNoise(**params["params"], key=b"k" * 16).label
    metrics = pq.read_table(run_dir / "metrics.parquet").to_pandas()
    assert set(metrics.condition) == {"undefended", "dynanoise(sigma0_sq=0.3, lam=2, T=10)", tuned}
    scores = pq.read_table(run_dir / "scores.parquet").to_pandas()
    assert params["provenance"]["target_output"] == "logits"  # what DefendedModel's output= is to be
    evaluation = params["provenance"]["split_sizes"]["evaluation"]
    assert scores.record.nunique() == evaluation["members"] + evaluation["non_members"] == 150
    confirmed = params["provenance"]["metrics"]["evaluation"]["midput"]
    audited = metrics[(metrics.condition == tuned) & (metrics.metric == "midput")]
    assert audited[audited.knowledge == "adaptive"].value.iloc[0] == pytest.approx(confirmed)
    for name in ("tuning.parquet", "front.parquet", "front.svg", "report.pdf"):
        assert (run_dir / name).is_file()
    assert "Tuned DynaNoise and the baselines" in (run_dir / "report.html").read_text()


def test_the_flow_and_the_plain_composition_write_identical_metrics_and_scores(prefect_api_url, tmp_path):
    config = AuditConfig(
        run_name="same",
        id_salt="one key, so both runs name records alike",
        output_dir=tmp_path / "flow",
        cache_dir=tmp_path / "cache",
        recipe={"epochs": 40},
        reference_models=4,
        max_queries=4,
        tune={"n_trials": 6, "baselines": False, "budget": BUDGET},
    )
    flow_dir = audit(config)
    plain = run_audit(
        config.model_copy(update={"output_dir": tmp_path / "plain", "cache_dir": None}), write=True
    )
    assert plain.run_dir.parent == tmp_path / "plain" / "same"
    for table in ("metrics.parquet", "scores.parquet"):
        from_flow, from_plain = pd.read_parquet(flow_dir / table), pd.read_parquet(plain.run_dir / table)
        assert len(from_flow) > 0
        pd.testing.assert_frame_equal(from_flow, from_plain, check_exact=True)

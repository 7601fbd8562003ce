import pyarrow.parquet as pq
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

from audit_core.config import AuditConfig
from flows.audit import audit


def test_audit_flow_completes_and_publishes_a_summary_artifact(prefect_api_url, tmp_path):
    config = AuditConfig(
        run_name="flow_test", output_dir=tmp_path, cache_dir=tmp_path / "cache", recipe={"epochs": 40}
    )
    state = audit(config, return_state=True)
    assert state.is_completed(), state.message
    run_dir = state.result()
    assert run_dir == tmp_path / "flow_test"
    metrics = pq.read_table(run_dir / "metrics.parquet").to_pandas()
    assert set(metrics.condition) == {"undefended", "dynanoise(sigma0_sq=0.3, lam=2, T=10)"}
    assert not list(tmp_path.glob(".flow_test.*")), "staging folders must not survive a completed run"

    keys = ["audit-flow-test", "audit-metrics-flow-test", "audit-report-flow-test"]
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=keys)))
    by_key = {a.key: a for a in artifacts}
    assert set(by_key) == set(keys)
    assert "MIDPUT" in by_key["audit-flow-test"].data and "| lira_online |" in by_key["audit-flow-test"].data
    assert (
        by_key["audit-metrics-flow-test"].type == "table"
        and "tpr_at_fpr_0.01" in by_key["audit-metrics-flow-test"].data
    )
    assert (run_dir / "report.html").resolve().as_uri() in by_key["audit-report-flow-test"].data

"""The gate flow: audit a model, then check the policy's limits; a breach ends the run Failed.

No flow-level retries: a returned Failed state would make Prefect run the whole audit again.
"""

import json
from pathlib import Path

from prefect import flow
from prefect.artifacts import create_markdown_artifact
from prefect.states import Completed, Failed, State

from audit_core.config import AuditConfig
from audit_core.core.locations import join
from audit_core.gate.check import GatePolicy, GateVerdict
from audit_core.gate.inputs import check_policy, previous_manifest
from audit_core.gate.reports import markdown_summary
from audit_core.results.runs import MANIFEST, METRICS, read_run_file, resolve_previous
from flows.audit import audit
from flows.credentials import use_storage_credentials
from tasks.artifacts import artifact_key
from tasks.gate_tasks import check_gate, read_metrics, scores_beside, write_gate_reports


@flow(name="dynaudit-gate", flow_run_name="gate-{config.run_label}", log_prints=True)
def gate(
    config: AuditConfig,
    policy: GatePolicy,
    previous_metrics: str | None = None,
    junit_path: Path | None = None,
    summary_path: Path | None = None,
) -> State[GateVerdict]:
    """Audit the model, check the policy on the conditions it names (and regressions against a previous run: a
    metrics.parquet, a run folder or a run name, a path or a URL), publish the verdict; Completed when every
    rule holds, Failed (with the verdict as data) when one is broken. The audit's report states the same
    verdict: the policy replaces the config's own."""
    check_policy(policy, config)
    use_storage_credentials(config)
    if previous_metrics is not None:  # a run name means its last run before this one
        previous_metrics = str(resolve_previous(previous_metrics, config.output_dir))
    previous = read_metrics(previous_metrics) if previous_metrics is not None else None
    run_dir = audit(config.model_copy(update={"policy": policy}), previous_metrics)
    manifest = json.loads(read_run_file(run_dir, MANIFEST))
    before = {} if previous_metrics is None else previous_manifest(previous_metrics)
    digests = (manifest["config_digest"], before.get("config_digest"))  # as the audit ran it (classes read)
    metrics_path = str(join(run_dir, METRICS))
    metrics = read_metrics(metrics_path)
    scores = (None, None)  # read only where a rule's bounds come from them
    if policy.reads_scores:
        previous_scores = None if previous_metrics is None else scores_beside(previous_metrics)
        scores = (scores_beside(metrics_path), previous_scores)
    verdict = check_gate(
        policy,
        metrics,
        previous,
        manifest["chosen"],
        digests,
        before.get("chosen"),
        manifest["warnings"],
        manifest["config"]["data"].get("classes"),  # the names the audit read its labels as
        scores,
    )
    write_gate_reports(verdict, config.run_name, junit_path, summary_path)
    create_markdown_artifact(
        key=artifact_key("gate", config.run_name),
        markdown=markdown_summary(verdict, config.run_name),
        description="CI gate verdict",
    )
    print(verdict.headline)
    for warning in verdict.warnings:
        print(f"Warning: {warning}")
    if verdict.recommendation:
        print(verdict.recommendation)
    if not verdict.passed:
        return Failed(message=verdict.headline, data=verdict)
    if verdict.status == "UNRESOLVED":  # completed (exit 0), but named so in the UI's run list
        return Completed(name="Unresolved", message=verdict.headline, data=verdict)
    return Completed(message=verdict.headline, data=verdict)

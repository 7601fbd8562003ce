"""The audit flow: query the target, apply each defense, attack every condition, write the report."""

from datetime import UTC, datetime
from pathlib import Path

from prefect import flow

from audit_core.config import AuditConfig
from audit_core.pipeline import add_models, conditions
from audit_core.summary import model_cache_line
from tasks.artifacts import publish_run_artifacts
from tasks.audit_tasks import (
    assemble_result,
    build_target,
    evaluate,
    load_audit_data,
    query_references,
    query_target,
    shadow_outputs,
    train_references,
    write_artifacts,
)


@flow(name="dynaudit-audit", flow_run_name="audit-{config.run_label}", log_prints=True)
def audit(config: AuditConfig) -> Path:
    """Run a membership-inference audit of one model, undefended and defended; return the run folder."""
    started_at = datetime.now(UTC)
    data = load_audit_data(config)
    target = build_target(config, data)
    signals = query_target(target, data)
    fingerprints = {"data": data.fingerprint(), "target": target.fingerprint()}
    shadow, shadow_counts = shadow_outputs(config, data, fingerprints)
    references, in_mask, reference_counts = train_references(config, data, fingerprints)
    model_cache = {"shadow": shadow_counts, "reference": reference_counts}
    print(model_cache_line(model_cache))
    references = query_references(references, in_mask, data)
    signals, fingerprints = add_models(signals, fingerprints, shadow, references)
    defenses = conditions(config)
    evaluations = [evaluate(config, signals, d) for d in defenses]
    result = assemble_result(config, data, signals, evaluations, fingerprints, model_cache, started_at)
    run_dir = write_artifacts(config, result, defenses)
    publish_run_artifacts(config.run_name, run_dir, model_cache_line(model_cache))
    return run_dir

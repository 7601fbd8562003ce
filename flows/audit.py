"""The audit flow: query the target, apply each defense, attack every condition, write the report."""

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from prefect import flow

from audit_core.audit.signals import Signals
from audit_core.config import AuditConfig
from audit_core.data import AuditData
from audit_core.defenses import DefenderData
from audit_core.pipeline import add_models
from audit_core.results.summary import model_cache_line
from flows.training import train_references
from tasks.artifacts import publish_run_artifacts
from tasks.audit_tasks import (
    assemble_result,
    build_conditions,
    build_target,
    evaluate,
    load_audit_data,
    query_defender_data,
    query_references,
    query_target,
    shadow_outputs,
    write_artifacts,
)
from tasks.tune_tasks import tune_dynanoise


@dataclass(frozen=True)
class AuditInputs:
    """Everything computed before any defense runs: the data, the logits, the defender's own outputs, the
    fingerprints and the model cache's counts."""

    data: AuditData
    signals: Signals
    defender: DefenderData
    fingerprints: dict[str, str]
    model_cache: dict[str, dict[str, int]]


def gather_inputs(config: AuditConfig) -> AuditInputs:
    """Load the data, build and query the target, get the shadow and reference outputs, and the defender's
    own outputs (shared by the audit and the tuning flows)."""
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
    defender = query_defender_data(config, target, data, signals)
    return AuditInputs(data, signals, defender, fingerprints, model_cache)


@flow(name="dynaudit-audit", flow_run_name="audit-{config.run_label}", log_prints=True)
def audit(config: AuditConfig, previous_metrics: Path | None = None) -> Path:
    """Run a membership-inference audit of one model, undefended and defended; return the run folder.

    With ``tune`` set, DynaNoise is first tuned on a tuning split of the audit points, the tuned setting joins
    the conditions, and every condition is reported on the disjoint evaluation split. With ``policy`` set,
    the report states its verdict (regressions against ``previous_metrics``, a metrics.parquet, included).
    """
    started_at = datetime.now(UTC)
    inputs = gather_inputs(config)
    tuning, audited = (None, inputs.signals)
    if config.tune is not None:
        tuning, audited = tune_dynanoise(config, inputs.signals, inputs.defender)
    defenses = build_conditions(config, inputs.defender, None if tuning is None else tuning.chosen)
    evaluations = [evaluate(config, audited, d) for d in defenses]
    result = assemble_result(
        config, inputs.data, audited, evaluations, inputs.fingerprints, inputs.model_cache, started_at, tuning
    )
    run_dir = write_artifacts(config, result, defenses, tuning, previous_metrics)
    publish_run_artifacts(config.run_name, run_dir, model_cache_line(inputs.model_cache))
    return run_dir

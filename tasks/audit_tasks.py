"""The audit's steps as Prefect tasks (one line each over audit_core.pipeline)."""

from datetime import datetime
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from audit_core import pipeline
from audit_core.config import AuditConfig
from audit_core.data import AuditData, Split
from audit_core.defenses import Defense
from audit_core.evaluation import ConditionEvaluation, evaluate_condition
from audit_core.results import AuditResult
from audit_core.signals import Signals, compute_signals
from audit_core.targets import TorchTarget

# In-memory arrays and models pass between these tasks; content-hash caching arrives with the cache layer.
_IN_MEMORY = {"cache_policy": NO_CACHE}


@task(name="load-audit-data", **_IN_MEMORY)
def load_audit_data(config: AuditConfig) -> AuditData:
    """Load the members, non-members, population and test records."""
    return pipeline.load_audit_data(config)


@task(name="train-target", **_IN_MEMORY)
def train_target(config: AuditConfig, data: AuditData) -> TorchTarget:
    """Train the demo target on the member set."""
    return pipeline.train_target(config, data)


@task(name="train-shadow", **_IN_MEMORY)
def train_shadow(config: AuditConfig, data: AuditData) -> tuple[TorchTarget, Split, Split]:
    """Train the attacker's shadow model on population data; return it with its in/out sets."""
    shadow_in, shadow_out = pipeline.split_shadow_data(config, data)
    return pipeline.train_shadow(config, data, shadow_in), shadow_in, shadow_out


@task(name="query-models", **_IN_MEMORY)
def query_models(
    target: TorchTarget, shadow: TorchTarget, data: AuditData, shadow_in: Split, shadow_out: Split
) -> Signals:
    """Logits of the target on the audit points and of the shadow on its own data."""
    return compute_signals(target, shadow, data, shadow_in, shadow_out)


@task(name="evaluate-condition", task_run_name="evaluate-{defense.label}", **_IN_MEMORY)
def evaluate(signals: Signals, defense: Defense, attacks: list[str], seed: int) -> ConditionEvaluation:
    """Apply one defense and run every attack against it."""
    return evaluate_condition(signals, defense, attacks, seed=seed)


@task(name="assemble-result", **_IN_MEMORY)
def assemble_result(
    config: AuditConfig,
    data: AuditData,
    evaluations: list[ConditionEvaluation],
    fingerprints: dict[str, str],
    started_at: datetime,
) -> AuditResult:
    """Bundle the evaluations with provenance."""
    return pipeline.assemble_result(config, data, evaluations, fingerprints, started_at)


@task(name="write-artifacts", retries=2, retry_delay_seconds=[1, 5], **_IN_MEMORY)
def write_artifacts(config: AuditConfig, result: AuditResult, defenses: list[Defense]) -> Path:
    """Write the Parquet tables, the HTML/PDF report and the manifest atomically."""
    return pipeline.write_run_folder(config, result, defenses)

"""The audit's steps as Prefect tasks (one line each over audit_core.pipeline)."""

from datetime import datetime
from pathlib import Path

import numpy as np
import torch
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from audit_core import pipeline
from audit_core.audit.evaluation import ConditionEvaluation
from audit_core.audit.shadow import ShadowLogits
from audit_core.audit.signals import ReferenceLogits, Signals, reference_logits, target_signals
from audit_core.config import AuditConfig
from audit_core.data import AuditData
from audit_core.defenses import DefenderData, Defense, DynaNoise
from audit_core.results.tables import AuditResult
from audit_core.targets import Target, TorchTarget
from audit_core.training.references import StateArrays, TrainingGroup, train_group
from audit_core.tuning.search import TuningResult

# In-memory arrays and models pass between these tasks, so Prefect does not cache them; work is reused across
# runs by the content-hashed model cache (audit_core/training/cache.py) instead.
_IN_MEMORY = {"cache_policy": NO_CACHE}


@task(name="load-audit-data", retries=2, retry_delay_seconds=[2, 10], **_IN_MEMORY)
def load_audit_data(config: AuditConfig) -> AuditData:
    """Load the members, non-members, population and test records."""
    return pipeline.load_audit_data(config)


@task(name="build-target", **_IN_MEMORY)
def build_target(config: AuditConfig, data: AuditData) -> Target:
    """Open the user's model or predictions (or train the demo target on the member set)."""
    return pipeline.build_target(config, data)


@task(name="query-target", **_IN_MEMORY)
def query_target(target: Target, data: AuditData) -> Signals:
    """Logits of the target on the audit, test and population records."""
    return target_signals(target, data)


@task(name="shadow-outputs", **_IN_MEMORY)
def shadow_outputs(
    config: AuditConfig, data: AuditData, fingerprints: dict[str, str]
) -> tuple[ShadowLogits | None, dict[str, int]]:
    """Train (or reuse) the attacker's shadow models on population data, or read their predictions; also
    return the model cache's counts."""
    cache = pipeline.model_cache(config)
    shadow = pipeline.shadow_outputs(config, data, fingerprints, cache)
    if config.shadow.kind == "trained":
        get_run_logger().info("Shadow models: %s", cache.summary())
    return shadow, cache.counts()


@task(name="train-model-group", task_run_name="train-{group.label}", **_IN_MEMORY)
def train_model_group(group: TrainingGroup, one_torch_thread: bool = False) -> list[StateArrays]:
    """Train one group of models wherever the task runner puts it; return their weights as numpy arrays."""
    if one_torch_thread:  # a worker process of its own: one thread per task, as the cluster's slots assume
        torch.set_num_threads(1)
    return train_group(group)


@task(name="query-references", **_IN_MEMORY)
def query_references(
    references: list[TorchTarget], in_mask: np.ndarray, data: AuditData
) -> ReferenceLogits | None:
    """Logits of each reference model on the audit and population points."""
    return reference_logits(references, in_mask, data)


@task(name="query-defender-data", **_IN_MEMORY)
def query_defender_data(
    config: AuditConfig, target: Target, data: AuditData, signals: Signals
) -> DefenderData:
    """What the defender's own model gives: shadow-like in/out outputs and answers to random inputs."""
    return pipeline.defender_data(config, target, data, signals)


@task(name="build-conditions", **_IN_MEMORY)
def build_conditions(
    config: AuditConfig, defender: DefenderData, tuned: DynaNoise | None = None
) -> list[Defense]:
    """The undefended baseline, the configured defenses and the tuned DynaNoise, fitted."""
    return pipeline.conditions(config, defender, tuned)


@task(name="evaluate-condition", task_run_name="evaluate-{defense.label}", **_IN_MEMORY)
def evaluate(config: AuditConfig, signals: Signals, defense: Defense) -> ConditionEvaluation:
    """Apply one defense and run every attack against it under each attacker knowledge."""
    return pipeline.evaluate(config, signals, defense)


@task(name="assemble-result", **_IN_MEMORY)
def assemble_result(
    config: AuditConfig,
    data: AuditData,
    signals: Signals,
    evaluations: list[ConditionEvaluation],
    fingerprints: dict[str, str],
    model_cache: dict[str, dict[str, int]],
    started_at: datetime,
    tuning: TuningResult | None = None,
) -> AuditResult:
    """Bundle the evaluations with provenance, the chosen defense and the report explorer's data."""
    return pipeline.assemble_result(
        config, data, signals, evaluations, fingerprints, model_cache, started_at, tuning
    )


@task(name="write-artifacts", retries=2, retry_delay_seconds=[1, 5], **_IN_MEMORY)
def write_artifacts(
    config: AuditConfig,
    result: AuditResult,
    defenses: list[Defense],
    tuning: TuningResult | None = None,
    previous_metrics: Path | None = None,
) -> Path:
    """Write the Parquet tables, the HTML/PDF report (with the policy's verdict, and the tuning files) and
    the manifest atomically."""
    return pipeline.write_run_folder(config, result, defenses, tuning, previous_metrics)

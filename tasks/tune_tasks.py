"""The tuning step as Prefect tasks (one line each over audit_core.pipeline)."""

from datetime import datetime
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from audit_core import pipeline
from audit_core.audit.signals import Signals
from audit_core.config import AuditConfig
from audit_core.data import AuditData
from audit_core.defenses import DefenderData
from audit_core.tuning.search import TuningResult

_IN_MEMORY = {"cache_policy": NO_CACHE}


@task(name="tune-dynanoise", **_IN_MEMORY)
def tune_dynanoise(
    config: AuditConfig, signals: Signals, defender: DefenderData
) -> tuple[TuningResult, Signals]:
    """Tune DynaNoise on the tuning split; return the result and the evaluation split."""
    return pipeline.tune_dynanoise(config, signals, defender)


@task(name="write-tuning-artifacts", retries=2, retry_delay_seconds=[1, 5], **_IN_MEMORY)
def write_tuning_artifacts(
    config: AuditConfig,
    data: AuditData,
    tuning: TuningResult,
    fingerprints: dict[str, str],
    model_cache: dict[str, dict[str, int]],
    started_at: datetime,
) -> Path:
    """Write the chosen parameters, the trial table, the front and the manifest atomically."""
    provenance = pipeline.run_provenance(config, data, fingerprints, model_cache, started_at)
    return pipeline.write_tuning_folder(config, tuning, provenance)

"""The audit flow: audit_core's one composition of the audit, with each step run as a Prefect task."""

from dataclasses import replace
from pathlib import Path

from prefect import flow

from audit_core.audit.run import PLAIN, Steps, run_audit
from audit_core.config import AuditConfig
from audit_core.core.errors import ConfigError
from audit_core.results.runs import resolve_previous
from audit_core.results.summary import model_cache_line
from flows.credentials import secret_block_value, use_storage_credentials
from flows.reporting import evaluate_conditions, tune_dynanoise
from flows.training import train_references
from tasks.artifacts import publish_run_artifacts
from tasks.steps import as_tasks


def flow_steps() -> Steps:
    """The audit's steps as Prefect tasks; reference models train on the config's task runner, they, the
    tuning trials and the conditions report progress, and the steps' messages go into the flow run's log."""
    reporting = replace(PLAIN, tune=tune_dynanoise, evaluate=evaluate_conditions)
    return as_tasks(reporting, train_references=train_references, notify=print)


def read_secret_block(name: str) -> str:
    """The text of the Prefect Secret block ``name`` (a config's ``{prefect_secret: name}``)."""
    value = secret_block_value(name)
    if value is None:
        raise ConfigError(
            f"Prefect Secret block {name!r} does not exist on this server; create it (UI: Blocks, Secret) "
            "or name an existing one."
        )
    if not isinstance(value, str):
        raise ConfigError(f"Prefect Secret block {name!r} holds {type(value).__name__}; expected a string.")
    return value


def resolved(config: AuditConfig) -> AuditConfig:
    """``config`` with its secret references (environment variables, Prefect Secret blocks) resolved; the
    flow run's stored parameters keep the references."""
    return config.resolved(read_secret_block)


@flow(name="dynaudit-audit", flow_run_name="audit-{config.run_label}", log_prints=True)
def audit(config: AuditConfig, previous_metrics: str | None = None) -> Path | str:
    """Run a membership-inference audit of one model, undefended and defended; return the new run folder
    (a path, or a URL on an object store).

    With ``tune`` set, DynaNoise is first tuned on a tuning split of the audit points, the tuned setting joins
    the conditions, and every condition is reported on the disjoint evaluation split. With ``policy`` set,
    the report states its verdict (regressions against ``previous_metrics``: a metrics.parquet, a run
    folder or a run name, whose last complete run it means; a path or a URL).
    """
    use_storage_credentials(config)
    previous = None if previous_metrics is None else resolve_previous(previous_metrics, config.output_dir)
    run = run_audit(resolved(config), steps=flow_steps(), write=True, previous_metrics=previous)
    publish_run_artifacts(
        config.run_name, run.run_dir, model_cache_line(run.result.provenance["model_cache"])
    )
    return run.run_dir

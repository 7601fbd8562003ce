"""The tuning flow: choose DynaNoise's parameters under an accuracy budget and compare the baselines."""

from pathlib import Path

from prefect import flow
from prefect.artifacts import create_markdown_artifact

from audit_core.audit.run import run_tuning
from audit_core.config import AuditConfig, TuneConfig
from audit_core.results.summary import tuning_table
from flows.audit import flow_steps, resolved
from flows.credentials import use_storage_credentials
from tasks.artifacts import artifact_key


@flow(name="dynaudit-tune", flow_run_name="tune-{config.run_label}", log_prints=True)
def tune(config: AuditConfig) -> Path | str:
    """Tune DynaNoise (``config.tune``, or the defaults) and write the chosen parameters, every trial and the
    front of DynaNoise and the baselines to a new run folder ``output_dir/<run_name>-tune/<run id>``; return
    that folder."""
    use_storage_credentials(config)
    tuning, run_dir = run_tuning(resolved(config), steps=flow_steps())
    objective = (config.tune or TuneConfig()).objective
    table = tuning_table(tuning.front, objective)
    create_markdown_artifact(
        key=artifact_key("tune", config.run_name),
        markdown=f"# DynaNoise tuning `{config.run_name}`\n\nChosen: `{tuning.chosen.label}`\n\n"
        f"Run folder: `{run_dir}`\n\n{table}\n",
        description="Chosen DynaNoise parameters and each defense's best setting under the budget",
    )
    return run_dir

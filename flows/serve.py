"""``dynaudit serve``: one deployment per YAML config in a folder, scheduled by its ``schedule:`` block,
plus unscheduled ad-hoc deployments for runs started from the Prefect UI form; one process serves them all.

A secret written in clear in a config file (``id_salt``, DynaNoise's ``key``) never reaches the server: serve
puts it into its own environment, which the flow runs it starts inherit, and the deployment's parameters name
that variable (``{env: DYNAUDIT_SECRET_...}``).
"""

import hashlib
import os
import re
from pathlib import Path
from typing import Any

from prefect import Flow, serve
from prefect.client.schemas.schedules import CronSchedule
from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron, Schedule
from prefect.settings import PREFECT_API_URL
from prefect.types.entrypoint import EntrypointType
from pydantic import SecretStr

from audit_core.config import AuditConfig, ScheduleConfig, load_config
from audit_core.core.errors import ConfigError
from flows.audit import audit
from flows.gate import gate

ADHOC = "adhoc"
# What the ad-hoc gate's form starts with; every field can be changed in the UI.
EXAMPLE_POLICY = {"max_auc": 0.6, "max_accuracy_drop": 0.05}


def _deployment(flow: Flow, name: str, parameters: dict[str, Any], **options: Any) -> RunnerDeployment:
    # Module entrypoints (flows.audit.audit) load from the installed package, whatever the working folder.
    return flow.to_deployment(
        name, parameters=parameters, entrypoint_type=EntrypointType.MODULE_PATH, **options
    )


def config_files(config_dir: Path) -> list[Path]:
    """The YAML files of ``config_dir``, sorted; at least one."""
    if not config_dir.is_dir():
        raise ConfigError(f"Config folder '{config_dir}' does not exist; expected a folder of YAML configs.")
    files = sorted([*config_dir.glob("*.yaml"), *config_dir.glob("*.yml")])
    if not files:
        raise ConfigError(f"Config folder '{config_dir}' has no .yaml files; expected one AuditConfig each.")
    return files


def _schedule(path: Path, schedule: ScheduleConfig) -> Schedule:
    try:  # Prefect's own cron check is stricter than the five-field shape the config checks
        CronSchedule(cron=schedule.cron, timezone=schedule.timezone)
    except ValueError:
        raise ConfigError(
            f"{path}: field 'schedule.cron' = {schedule.cron!r} is invalid: Prefect cannot read it as a "
            "cron expression (minute 0-59, hour 0-23, day 1-31, month 1-12, weekday 0-6)."
        ) from None
    return Cron(schedule.cron, timezone=schedule.timezone, active=schedule.active)


def _variable(name: str, field: str) -> str:
    """The environment variable that carries one clear secret of deployment ``name`` to its runs."""
    readable = re.sub(r"[^A-Za-z0-9]", "_", name).upper()
    return (
        f"DYNAUDIT_SECRET_{readable}_{hashlib.sha256(name.encode()).hexdigest()[:8].upper()}_{field.upper()}"
    )


def served_parameters(name: str, config: AuditConfig) -> tuple[dict[str, Any], dict[str, str]]:
    """The deployment's parameters, each secret given in clear replaced by ``{env: VARIABLE}``, and those
    variables' values (for serve's own environment)."""
    dumped = config.model_dump(mode="json")
    environment: dict[str, str] = {}

    def hand_over(value: object, field: str) -> dict[str, str] | None:
        if not isinstance(value, SecretStr):
            return None
        variable = _variable(name, field)
        environment[variable] = value.get_secret_value()
        return {"env": variable}

    if reference := hand_over(config.id_salt, "id_salt"):
        dumped["id_salt"] = reference
    for index, entry in enumerate(config.defenses):
        if reference := hand_over(getattr(entry, "key", None), f"defenses_{index}_key"):
            dumped["defenses"][index]["key"] = reference
    return {"config": dumped}, environment


def config_deployment(path: Path, config: AuditConfig) -> RunnerDeployment:
    """The audit deployment of one config file, named after the file, on the file's schedule if any; its
    clear secrets go into this process's environment, for the runs it serves."""
    parameters, environment = served_parameters(path.stem, config)
    os.environ.update(environment)
    s = config.schedule
    when = "unscheduled" if s is None else f"cron '{s.cron}' ({s.timezone}){'' if s.active else ', paused'}"
    return _deployment(
        audit,
        path.stem,
        parameters,
        schedules=[] if s is None else [_schedule(path, s)],
        description=f"Audit of {path.name}, {when}.",
        tags=["dynaudit"] if s is None else ["dynaudit", "scheduled"],
    )


def config_deployments(config_dir: Path) -> list[RunnerDeployment]:
    """One audit deployment per config file of ``config_dir``; every file is validated first."""
    configs = {path: load_config(path) for path in config_files(config_dir)}
    names = {ADHOC}
    for path in configs:
        if path.stem in names:
            raise ConfigError(
                f"Config file '{path}' would name a second deployment '{path.stem}'; rename the file."
            )
        names.add(path.stem)
    return [config_deployment(path, config) for path, config in configs.items()]


def adhoc_deployments() -> list[RunnerDeployment]:
    """Unscheduled deployments for runs started from the UI, one per flow, prefilled with the demo."""
    demo = AuditConfig().model_dump(mode="json")
    return [
        _deployment(
            audit,
            ADHOC,
            {"config": demo},
            description="Start an audit from the form; the defaults are the demo.",
            tags=["dynaudit", ADHOC],
        ),
        _deployment(
            gate,
            ADHOC,
            {"config": demo, "policy": EXAMPLE_POLICY},
            description="Audit, then check a gate policy; Failed when a limit is broken.",
            tags=["dynaudit", ADHOC],
        ),
    ]


def serve_configs(config_dir: Path, *, pause_on_shutdown: bool, limit: int) -> None:
    """Register every deployment with the Prefect server and run their flow runs until interrupted."""
    deployments = [*config_deployments(config_dir), *adhoc_deployments()]
    if PREFECT_API_URL.value() is None:
        raise ConfigError(
            "dynaudit serve needs a Prefect server: run `prefect server start` and set PREFECT_API_URL "
            "(e.g. http://127.0.0.1:4200/api)."
        )
    serve(*deployments, pause_on_shutdown=pause_on_shutdown, limit=limit)

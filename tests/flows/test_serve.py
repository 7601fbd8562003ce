"""``dynaudit serve`` against a real Prefect server: deployments whose form comes from the pydantic models,
schedules from the config files, a run triggered through the API that publishes its artifacts, and
schedules that stay active when serve stops (unless --pause-on-shutdown)."""

import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    FlowRunFilter,
    FlowRunFilterDeploymentId,
)
from prefect.client.schemas.objects import DeploymentStatus
from prefect.exceptions import ObjectNotFound
from prefect.settings import PREFECT_API_URL, temporary_settings

from audit_core.core.errors import ConfigError
from flows.cli import main
from flows.serve import config_deployments

SMALL = {
    "recipe": {"epochs": 20},
    "reference_models": 4,
    "max_queries": 4,
    "attacks": ["confidence", "loss", "lira_offline", "rmia"],
    "knowledge": ["naive", "adaptive", "averaging"],
    "cache_dir": "cache",
    "output_dir": "out",
}
COMPLIANCE = {
    **SMALL,
    "run_name": "compliance",
    "schedule": {"cron": "30 2 * * *", "timezone": "Europe/Berlin"},
}
PAUSED = {**SMALL, "run_name": "weekly", "schedule": {"cron": "0 4 * * 1", "active": False}}
DEPLOYMENTS = [
    "dynaudit-audit/compliance",
    "dynaudit-audit/weekly",
    "dynaudit-audit/adhoc",
    "dynaudit-gate/adhoc",
]


def _write_configs(folder: Path, **configs: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, config in configs.items():
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(config))
    return folder


def _wait_for(what: str, check, timeout: float, process=None, log: Path | None = None):
    """Poll ``check()`` until it returns something truthy; fail with the serve log if it never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            pytest.fail(f"dynaudit serve exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        found = check()
        if found:
            return found
        time.sleep(1)
    pytest.fail(f"timed out waiting for {what}" + (f":\n{log.read_text()[-3000:]}" if log else ""))


def _served_deployments(client, names: list[str]) -> dict:
    """The named deployments once serve polls for their runs (status READY), else an empty dict."""
    found = {}
    for name in names:
        try:
            deployment = client.read_deployment_by_name(name)
        except ObjectNotFound:
            return {}
        if deployment.status != DeploymentStatus.READY:
            return {}
        found[name] = deployment
    return found


def _stop(process) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)


@dataclass
class Served:
    process: object
    workdir: Path
    log: Path
    deployments: dict


@pytest.fixture(scope="module")
def served(start_dynaudit, tmp_path_factory) -> Iterator[Served]:
    workdir = tmp_path_factory.mktemp("serve")
    _write_configs(workdir / "configs", compliance=COMPLIANCE, weekly=PAUSED)
    log = workdir / "serve.log"
    process = start_dynaudit(["serve", "configs"], workdir, log, PREFECT_RUNNER_POLL_FREQUENCY="2")
    with get_client(sync_client=True) as client:
        deployments = _wait_for(
            "the served deployments", lambda: _served_deployments(client, DEPLOYMENTS), 180, process, log
        )
    yield Served(process, workdir, log, deployments)
    if process.poll() is None:
        _stop(process)


def test_the_ui_form_comes_from_the_pydantic_models(served):
    schema = served.deployments["dynaudit-audit/adhoc"].parameter_openapi_schema
    assert schema["required"] == ["config"]
    audit_config = schema["definitions"]["AuditConfig"]["properties"]
    assert audit_config["max_queries"]["minimum"] == 1 and audit_config["max_queries"]["maximum"] == 4096
    assert "averaging attacker" in audit_config["max_queries"]["description"]
    assert {"rmia", "lira_online", "label_only"} <= set(audit_config["attacks"]["items"]["enum"])
    assert audit_config["knowledge"]["items"]["enum"] == ["naive", "adaptive", "averaging"]
    assert schema["definitions"]["ScheduleConfig"]["properties"]["timezone"]["default"] == "UTC"
    gate = served.deployments["dynaudit-gate/adhoc"]
    policy = gate.parameter_openapi_schema["definitions"]["GatePolicy"]["properties"]
    assert (
        policy["unresolved"]["enum"] == ["fail", "pass", "warn"]
        and policy["condition"]["default"] == "chosen"
    )
    assert policy["max_auc"]["anyOf"][0]["maximum"] == 1
    assert gate.parameters["policy"] == {"max_auc": 0.6, "max_accuracy_drop": 0.05}


def test_a_scheduled_config_gets_its_next_runs_on_its_cron(served):
    compliance = served.deployments["dynaudit-audit/compliance"]
    [schedule] = compliance.schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone, schedule.active) == (
        "30 2 * * *",
        "Europe/Berlin",
        True,
    )
    assert compliance.parameters["config"]["run_name"] == "compliance"
    with get_client(sync_client=True) as client:
        runs = _wait_for(
            "scheduled runs of the compliance deployment",
            lambda: client.read_flow_runs(
                flow_run_filter=FlowRunFilter(deployment_id=FlowRunFilterDeploymentId(any_=[compliance.id]))
            ),
            90,
        )
        weekly = served.deployments["dynaudit-audit/weekly"]
        paused_runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(deployment_id=FlowRunFilterDeploymentId(any_=[weekly.id]))
        )
    berlin = [r.expected_start_time.astimezone(ZoneInfo("Europe/Berlin")) for r in runs]
    assert all(r.state.is_scheduled() for r in runs)
    assert {(t.hour, t.minute) for t in berlin} == {(2, 30)}
    assert len({t.date() for t in berlin}) == len(berlin), "one run per day"
    assert [s.active for s in weekly.schedules] == [False] and not paused_runs


@pytest.mark.slow
def test_a_run_triggered_through_the_api_completes_and_publishes_its_artifacts(served):
    config = {**SMALL, "run_name": "ui"}
    with get_client(sync_client=True) as client:
        run = client.create_flow_run_from_deployment(
            served.deployments["dynaudit-audit/adhoc"].id, parameters={"config": config}
        )
        run = _wait_for(
            "the triggered run to finish",
            lambda: (r := client.read_flow_run(run.id)).state.is_final() and r,
            300,
            served.process,
            served.log,
        )
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run.id]))
        )
    assert run.state.is_completed(), run.state.message
    assert run.name.startswith("audit-ui-trained-mlp-")
    by_key = {a.key: a for a in artifacts}
    summary = by_key["audit-ui"].data
    assert "| strongest attack | AUC [95% CI] | TPR@1%FPR | MIDPUT |" in summary
    assert "| undefended | — |" in summary
    assert "Shadow and reference models: trained 5, reused 0 from the cache." in summary
    assert by_key["reference-models-ui"].type == "progress" and by_key["reference-models-ui"].data == 100
    assert by_key["conditions-ui"].type == "progress" and by_key["conditions-ui"].data == 100
    report = served.workdir / "out" / "ui" / "latest" / "report.pdf"
    assert report.is_file(), "relative paths resolve where serve runs"


def test_stopping_serve_keeps_the_schedules_active(served):
    _stop(served.process)
    with get_client(sync_client=True) as client:
        compliance = client.read_deployment_by_name("dynaudit-audit/compliance")
    assert not compliance.paused and [s.active for s in compliance.schedules] == [True]


@pytest.mark.slow
def test_pause_on_shutdown_pauses_the_schedules(start_dynaudit, tmp_path):
    _write_configs(tmp_path / "configs", monthly={**COMPLIANCE, "schedule": {"cron": "0 1 1 * *"}})
    log = tmp_path / "serve.log"
    process = start_dynaudit(["serve", "configs", "--pause-on-shutdown"], tmp_path, log)
    with get_client(sync_client=True) as client:
        _wait_for(
            "the monthly deployment",
            lambda: _served_deployments(client, ["dynaudit-audit/monthly"]),
            180,
            process,
            log,
        )
        _stop(process)
        monthly = client.read_deployment_by_name("dynaudit-audit/monthly")
    assert monthly.paused


@pytest.mark.parametrize(
    ("files", "sentence"),
    [
        (None, "does not exist; expected a folder of YAML configs"),
        ({}, "has no .yaml files"),
        ({"a.yaml": "sed: 1\n"}, "unknown field 'sed'"),
        ({"a.yaml": "schedule: {cron: '0 2 * *'}\n"}, "must have five fields"),
        ({"a.yaml": "schedule: {cron: '61 2 * * *'}\n"}, "Prefect cannot read it as a cron expression"),
        ({"a.yaml": "schedule: {cron: '0 2 * * *', timezone: Mars/Base}\n"}, "IANA time zone"),
        ({"a.yaml": "{}\n", "a.yml": "{}\n"}, "would name a second deployment 'a'"),
        ({"adhoc.yaml": "{}\n"}, "would name a second deployment 'adhoc'"),
    ],
)
def test_bad_config_folders_are_refused_with_one_sentence(tmp_path, files, sentence):
    for name, text in (files or {}).items():
        (tmp_path / name).write_text(text)
    with pytest.raises(ConfigError, match=sentence) as caught:
        config_deployments(tmp_path if files is not None else tmp_path / "nowhere")
    assert "\n" not in str(caught.value)


def test_serve_without_a_prefect_server_exits_2_with_one_sentence(tmp_path, capsys):
    _write_configs(tmp_path / "configs", compliance=COMPLIANCE)
    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        assert main(["serve", str(tmp_path / "configs")]) == 2
    assert capsys.readouterr().err == (
        "dynaudit: dynaudit serve needs a Prefect server: run `prefect server start` and set "
        "PREFECT_API_URL (e.g. http://127.0.0.1:4200/api).\n"
    )

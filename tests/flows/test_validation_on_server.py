"""Configs the pydantic model refuses are refused by the Prefect server too, before a flow run exists, and so
is a secret given in clear (the server would store it); a task that fails on the user's input is not
retried."""

import subprocess
import sys

import pytest
from prefect import flow, task
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

from audit_core.core.errors import AuditInputError, DataError
from flows.audit import audit
from flows.serve import _deployment
from tasks.retries import FILE_RETRIES


@pytest.fixture(scope="module")
def deployment_id(prefect_api_url):
    return _deployment(audit, "validation", {"config": {"run_name": "ok"}}).apply()


@pytest.mark.parametrize(
    ("config", "reason"),
    [
        (
            '{"reference_models": 3}',
            "Validation failed for field 'config.reference_models'. Failure reason: 3 is ",
        ),
        (
            '{"run_name": "../escape"}',
            "Validation failed for field 'config.run_name'. Failure reason: '../escape'",
        ),
        (  # Prefect would store it in clear with the run: the form and the server take references only
            '{"id_salt": "typed-in-clear"}',
            "Validation failed for field 'config.id_salt'. Failure reason: 'typed-in-clear'",
        ),
    ],
)
def test_prefect_deployment_run_refuses_an_invalid_config_before_a_flow_run_starts(
    prefect_api_url, deployment_id, config, reason
):
    command = [sys.executable, "-m", "prefect", "deployment", "run", "dynaudit-audit/validation"]
    result = subprocess.run(
        [*command, "--param", f"config={config}"],
        env={"PREFECT_API_URL": prefect_api_url, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert reason in " ".join((result.stdout + result.stderr).split())
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id]))
        )
    assert runs == []


def test_a_task_failing_on_bad_input_is_not_retried_and_other_failures_are(prefect_api_url):
    calls = {"bad input": 0, "flaky": 0}

    @task(**FILE_RETRIES, retry_delay_seconds=0)
    def read(kind: str) -> None:
        calls[kind] += 1
        if kind == "bad input":
            raise DataError("Data file 'x.parquet' has no column 'label'.")
        if calls[kind] < 3:
            raise OSError("the share blinked")

    @flow
    def reads(kind: str) -> None:
        read(kind)

    with pytest.raises(AuditInputError):
        reads("bad input")
    reads("flaky")
    assert calls == {"bad input": 1, "flaky": 3}

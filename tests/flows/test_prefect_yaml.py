"""The shipped prefect.yaml deploys to a process work pool on a real server, as the README says."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client

from audit_core.config import AuditConfig

REPO = Path(__file__).parents[2]


def _prefect(args: list[str], api_url: str) -> None:
    command = [sys.executable, "-m", "prefect", *args]
    env = {**os.environ, "PREFECT_API_URL": api_url}
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


@pytest.mark.slow
def test_prefect_yaml_deploys_every_deployment_to_the_work_pool(prefect_api_url):
    _prefect(["work-pool", "create", "dynaudit", "--type", "process"], prefect_api_url)
    _prefect(["--no-prompt", "deploy", "--all"], prefect_api_url)
    with get_client(sync_client=True) as client:
        nightly = client.read_deployment_by_name("dynaudit-audit/nightly")
        ci = client.read_deployment_by_name("dynaudit-gate/ci")
        run = client.create_flow_run_from_deployment(ci.id)  # the server checks the parameters' schema
        client.delete_flow_run(run.id)
    [schedule] = nightly.schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone, schedule.active) == (
        "0 2 * * *",
        "UTC",
        False,
    )
    assert nightly.work_pool_name == ci.work_pool_name == "dynaudit"
    assert AuditConfig.model_validate(nightly.parameters["config"]).run_name == "nightly"
    assert ci.parameters["policy"] == {"max_auc": 0.6, "max_accuracy_drop": 0.05}
    assert nightly.pull_steps == [
        {"prefect.deployments.steps.set_working_directory": {"directory": str(REPO.resolve())}}
    ]

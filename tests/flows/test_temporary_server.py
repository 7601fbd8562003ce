"""The temporary Prefect server of a command run without PREFECT_API_URL is not left behind: SIGTERM stops
the command and its server; after SIGKILL, the next command stops the orphaned server."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from flows.temporary_server import RECORDS, SERVER_APP, reap_orphaned_servers
from tests.flows.conftest import SMALL_AUDIT, _cli_command, _cli_env

LONG = {**SMALL_AUDIT, "run_name": "long", "recipe": {"epochs": 5000}}  # runs until it is stopped
STARTUP_S = 180


def _start(tmp_path: Path, log: Path) -> subprocess.Popen:
    (tmp_path / "long.yaml").write_text(yaml.safe_dump(LONG))
    env = {**_cli_env(None), "PREFECT_HOME": str(tmp_path / "prefect-home")}
    with log.open("w") as sink:
        return subprocess.Popen(
            _cli_command(["audit", "long.yaml"]), cwd=tmp_path, env=env, stdout=sink, stderr=subprocess.STDOUT
        )


def _recorded_server(tmp_path: Path, process: subprocess.Popen, log: Path) -> int:
    records = tmp_path / "prefect-home" / RECORDS
    deadline = time.monotonic() + STARTUP_S
    while not list(records.glob("*.json")):
        assert process.poll() is None, f"the command ended early:\n{log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"no temporary server was recorded:\n{log.read_text()[-3000:]}"
        time.sleep(0.2)
    [record] = records.glob("*.json")
    return json.loads(record.read_text())["server_pid"]


def _gone(pid: int, within_s: float = 20) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        if Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":  # exited, waiting to be reaped
            return True
        time.sleep(0.2)
    return False


@pytest.mark.slow
def test_sigterm_stops_the_command_and_its_temporary_server(tmp_path):
    log = tmp_path / "run.log"
    process = _start(tmp_path, log)
    server = _recorded_server(tmp_path, process, log)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 143, log.read_text()[-3000:]
    assert log.read_text().strip().endswith("dynaudit: terminated (SIGTERM); no run folder was written.")
    assert _gone(server), "the temporary server outlived its command"
    assert not list((tmp_path / "prefect-home" / RECORDS).glob("*.json"))
    assert not (tmp_path / "out" / "long").exists()


SWALLOWED_SIGTERM = """
import os, signal, sys
from flows import cli

launch = cli.start_temporary_server


def start_and_get_sigterm_in_a_finalizer():
    server = launch()

    class Finalized:
        def __del__(self):
            os.kill(os.getpid(), signal.SIGTERM)
            handled_here = True  # the handler runs at this line, inside the finalizer: its exception is lost

    Finalized()
    return server


cli.start_temporary_server = start_and_get_sigterm_in_a_finalizer
sys.exit(cli.main(["audit", "long.yaml"]))
"""


@pytest.mark.slow
def test_a_sigterm_whose_exception_a_finalizer_swallowed_still_stops_the_command_before_its_run(tmp_path):
    (tmp_path / "long.yaml").write_text(yaml.safe_dump(LONG))
    (tmp_path / "swallowed.py").write_text(SWALLOWED_SIGTERM)
    env = {**_cli_env(None), "PREFECT_HOME": str(tmp_path / "prefect-home")}
    done = subprocess.run(
        [sys.executable, "swallowed.py"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180
    )
    assert "Exception ignored" in done.stderr and "Terminated" in done.stderr  # Python lost the exception
    assert done.returncode == 143, done.stderr[-3000:]
    assert done.stderr.strip().endswith("dynaudit: terminated (SIGTERM); no run folder was written.")
    assert not (tmp_path / "out" / "long").exists()
    assert not list((tmp_path / "prefect-home" / RECORDS).glob("*.json"))  # its server stopped


@pytest.mark.slow
def test_the_server_of_a_killed_command_is_stopped_by_the_next_one(tmp_path, monkeypatch):
    log = tmp_path / "run.log"
    process = _start(tmp_path, log)
    server = _recorded_server(tmp_path, process, log)
    process.kill()
    process.wait()
    assert not _gone(server, within_s=2), "SIGKILL leaves the server running: the case to handle"
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect-home"))
    assert reap_orphaned_servers() == [server]
    assert _gone(server)
    assert not list((tmp_path / "prefect-home" / RECORDS).glob("*.json"))


SIDE_BY_SIDE = """
import subprocess, sys
from flows.temporary_server import prefect_api, start_temporary_server
server = start_temporary_server()
assert "prefect" not in sys.modules, "Prefect was imported before the server was launched"
with prefect_api(server):
    from prefect.client.orchestration import get_client
    with get_client(sync_client=True) as client:
        assert str(client.api_url).rstrip("/") == server.api_url, (client.api_url, server.api_url)
        assert client.api_healthcheck() is None
print(server.process.pid)
"""


@pytest.mark.slow
def test_the_server_is_launched_before_prefect_is_imported_and_used_once_it_answers(tmp_path):
    env = {**_cli_env(None), "PREFECT_HOME": str(tmp_path / "prefect-home")}
    done = subprocess.run(
        [sys.executable, "-c", SIDE_BY_SIDE], env=env, capture_output=True, text=True, timeout=STARTUP_S
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert _gone(int(done.stdout.split()[-1])), "the temporary server outlived its command"
    assert not list((tmp_path / "prefect-home" / RECORDS).glob("*.json"))


def _servers_under(prefect_home: Path) -> list[int]:
    """The running Prefect server processes whose PREFECT_HOME is ``prefect_home``."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes()
            environment = (entry / "environ").read_bytes().split(b"\0")
        except (OSError, ValueError):  # not a process, gone meanwhile, or not ours to read
            continue
        if SERVER_APP.encode() in command and f"PREFECT_HOME={prefect_home}".encode() in environment:
            found.append(int(entry.name))
    return [pid for pid in found if not _gone(pid, within_s=0.5)]


def test_the_command_line_launches_its_server_before_importing_the_rest_of_dynaudit():
    heavy = {"torch", "pandas", "prefect", "audit_core.config"}
    code = f"import sys, flows.cli; print(sorted({heavy!r} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], env=_cli_env(None), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "[]"


@pytest.mark.slow
def test_a_command_with_bad_input_stops_the_server_it_launched_first(tmp_path):
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump({**SMALL_AUDIT, "attacks": ["no_such_attack"]}))
    home = tmp_path / "prefect-home"
    env = {**_cli_env(None), "PREFECT_HOME": str(home)}
    done = subprocess.run(
        _cli_command(["audit", "bad.yaml"]), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2, done.stderr[-3000:]
    assert done.stderr.startswith("dynaudit: ") and "no_such_attack" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert list(home.glob(f"{RECORDS}/*.json")) == []
    assert _servers_under(home) == []
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_an_audit_on_its_temporary_server_sends_every_log_line_and_leaves_no_server(tmp_path):
    (tmp_path / "small.yaml").write_text(yaml.safe_dump({**SMALL_AUDIT, "run_name": "small"}))
    home = tmp_path / "prefect-home"
    held = {"PREFECT_LOGGING_TO_API_BATCH_INTERVAL": "600"}  # log lines are sent at exit only
    env = {**_cli_env(None), "PREFECT_HOME": str(home), **held}
    done = subprocess.run(
        _cli_command(["audit", "small.yaml"]),
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=STARTUP_S,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Error logging to API" not in done.stdout + done.stderr  # the server outlived the last log lines
    assert list(home.glob(f"{RECORDS}/*.json")) == []
    assert _servers_under(home) == []

"""Flow tests share one real Prefect server per session: ``prefect server start`` on loopback, as people
run it, with a fresh PREFECT_HOME (its own SQLite database) and analytics off."""

import functools
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from prefect.events.worker import EventsWorker
from prefect.logging.handlers import APILogWorker
from prefect.settings import PREFECT_API_URL, temporary_settings

from flows.temporary_server import answers_health, free_port

STARTUP_TIMEOUT_S = 120
REPOSITORY = Path(__file__).resolve().parents[2]
# The smallest audit a command-line test runs: one shadow model, one attack, no reference models.
SMALL_AUDIT = {
    "data": {"n_members": 60, "n_non_members": 60, "n_population": 120},
    "reference_models": 0,
    "attacks": ["loss"],
    "knowledge": ["naive"],
    "max_queries": 1,
    "cache_dir": "cache",
    "output_dir": "out",
}
Completed = subprocess.CompletedProcess
Cli = Callable[..., Completed]


def _wait_until_healthy(server: subprocess.Popen, api_url: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"prefect server exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        if answers_health(api_url):
            return
        time.sleep(0.5)
    pytest.fail(f"prefect server did not answer within {STARTUP_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def prefect_server_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session server's PREFECT_HOME: its SQLite database (prefect.db) and its log (server.log)."""
    return tmp_path_factory.mktemp("prefect-server-home")


@pytest.fixture(scope="session")
def prefect_api_url(prefect_server_home: Path) -> Iterator[str]:
    """Start ``prefect server start`` for the session; this process's Prefect client points at it."""
    home = prefect_server_home
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = {**_cli_env(None), "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    command = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    log = home / "server.log"
    with log.open("w") as sink:  # the API only: the UI's static files add startup time and no coverage
        server = subprocess.Popen([*command, "--no-ui"], env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        _wait_until_healthy(server, api_url, log)
        with temporary_settings(updates={PREFECT_API_URL: api_url}):
            yield api_url
            APILogWorker.drain_all()  # flush this process's run logs and events while the server is up
            EventsWorker.drain_all()
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _cli_env(api_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.setdefault("OMP_NUM_THREADS", "1")  # one torch thread, as in this process (tests/conftest.py)
    # the checkout on the path, so configs can name the tests' own models and training functions
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPOSITORY), env.get("PYTHONPATH")]))
    return env if api_url is None else {**env, "PREFECT_API_URL": api_url}


def _cli_command(args: list[str]) -> list[str]:
    return [sys.executable, "-m", "flows.cli", *args]


@pytest.fixture(scope="session")
def run_cli() -> Cli:
    """Run the ``dynaudit`` command line to completion in a subprocess, as a user does, against
    ``api_url`` (``None``: no Prefect server configured)."""

    def run(args: list[str], cwd: Path, api_url: str | None, timeout: float = 600) -> Completed:
        return subprocess.run(
            _cli_command(args),
            cwd=cwd,
            env=_cli_env(api_url),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    return run


@pytest.fixture(scope="session")
def dynaudit(run_cli: Cli, prefect_api_url: str) -> Cli:
    """``run_cli`` against the session's server."""
    return functools.partial(run_cli, api_url=prefect_api_url)


@pytest.fixture(scope="session")
def start_dynaudit(prefect_api_url: str) -> Callable[..., subprocess.Popen]:
    """Start the ``dynaudit`` command line in the background against the session's server; its output goes
    to ``log``."""

    def start(args: list[str], cwd: Path, log: Path, **env: str) -> subprocess.Popen:
        with log.open("w") as sink:
            return subprocess.Popen(
                _cli_command(args),
                cwd=cwd,
                env={**_cli_env(prefect_api_url), **env},
                stdout=sink,
                stderr=subprocess.STDOUT,
            )

    return start

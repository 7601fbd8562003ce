"""The temporary Prefect server a command starts when no ``PREFECT_API_URL`` is set, never left behind.

A command launches the server first, before it imports the rest of dynaudit and Prefect (the two start side
by side). It stops the server when it ends without running a flow (bad input, say); after a flow, the exit
does, once Prefect's own exit handlers have sent the run's last log lines. The command line also turns
SIGTERM into a normal exit (:func:`stop_on_sigterm`), and records each server it starts under
``PREFECT_HOME`` with its own process id; a command killed outright (SIGKILL) cannot stop its server, so the
next command stops any recorded server whose command is gone (:func:`reap_orphaned_servers`).
"""

import atexit
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

RECORDS = "dynaudit-temporary-servers"  # folder under PREFECT_HOME: one JSON file per running server
SERVER_APP = "prefect.server.api.server:create_app"  # in the command line of Prefect's temporary server


class Terminated(BaseException):
    """The command received SIGTERM; raised in the main thread so that cleanups run as on any exit."""


_SIGTERM_RECEIVED = threading.Event()


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    _SIGTERM_RECEIVED.set()
    raise Terminated()


def was_terminated() -> bool:
    """Whether SIGTERM arrived; an error raised after it (its exception wrapped by a library, say pydantic's
    serializer) is its consequence, not a failure of its own."""
    return _SIGTERM_RECEIVED.is_set()


def raise_if_terminated() -> None:
    """Raise :class:`Terminated` if SIGTERM arrived: its exception is lost where the handler ran inside a
    finalizer (Python prints "Exception ignored" and goes on), as it can while a command imports."""
    if was_terminated():
        raise Terminated()


def stop_on_sigterm() -> None:
    """Make SIGTERM end this process through Python's normal exit path (Prefect's server stops with it)."""
    signal.signal(signal.SIGTERM, _raise_terminated)


def _records_folder() -> Path:
    return Path(os.environ.get("PREFECT_HOME", "~/.prefect")).expanduser() / RECORDS


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive, and not ours to stop
        return True
    return True


def _command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def reap_orphaned_servers() -> list[int]:
    """Stop the recorded temporary servers whose command no longer runs; return their process ids."""
    reaped = []
    for record in sorted(_records_folder().glob("*.json")):
        try:
            entry = json.loads(record.read_text(encoding="utf-8"))
            server, owner, port = int(entry["server_pid"]), int(entry["owner_pid"]), int(entry["port"])
        except (OSError, ValueError, KeyError, TypeError):
            record.unlink(missing_ok=True)
            continue
        if _alive(owner):
            continue
        command = _command_line(server)
        if SERVER_APP in command and f"--port {port}" in command:  # not a recycled process id
            os.kill(server, signal.SIGTERM)
            reaped.append(server)
        record.unlink(missing_ok=True)
    return reaped


#: What Prefect's own temporary server runs with (``SubprocessASGIServer``): no UI, ephemeral mode.
SERVER_ENVIRONMENT = {
    "PREFECT_UI_ENABLED": "0",
    "PREFECT__SERVER_EPHEMERAL": "1",
    "PREFECT__SERVER_FINAL": "1",
}
PORT_TAKEN = 3  # uvicorn's exit code when its port is already bound
STARTUP_TIMEOUT = "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"


def free_port() -> int:
    """A loopback TCP port nobody listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def answers_health(api_url: str, timeout: float = 1) -> bool:
    """Whether the Prefect server at ``api_url`` answers its health check within ``timeout`` seconds."""
    try:
        with urllib.request.urlopen(f"{api_url.rstrip('/')}/health", timeout=timeout) as answer:
            return answer.status == 200
    except OSError:  # not listening (yet)
        return False


class TemporaryServer:
    """Prefect's temporary server (the app and settings of Prefect's ``SubprocessASGIServer``), launched at
    once so that it starts while this command imports Prefect; waited for before the flow runs, stopped when
    this process ends, and recorded under ``PREFECT_HOME`` meanwhile."""

    def __init__(self) -> None:
        self.record: Path | None = None
        self.process = self._launch()
        #: Whether Prefect's client was pointed at it: then only the exit stops it, after Prefect's own exit
        #: handlers (registered later, run earlier) have sent it the run's last log lines.
        self.serving = False
        atexit.register(self.stop)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def _launch(self) -> subprocess.Popen:
        self.port = free_port()
        site = Path(importlib.util.find_spec("prefect").origin).parent.parent  # found, not imported
        command = [
            *(sys.executable, "-m", "uvicorn", "--app-dir", str(site), "--factory", SERVER_APP),
            *("--host", "127.0.0.1", "--port", str(self.port), "--log-level", "error", "--lifespan", "on"),
        ]
        process = subprocess.Popen(command, env={**os.environ, **SERVER_ENVIRONMENT})
        self._forget()
        self.record = _records_folder() / f"{process.pid}.json"
        self.record.parent.mkdir(parents=True, exist_ok=True)
        entry = {"server_pid": process.pid, "owner_pid": os.getpid(), "port": self.port}
        self.record.write_text(json.dumps(entry), encoding="utf-8")
        return process

    def _forget(self) -> None:
        if self.record is not None:
            self.record.unlink(missing_ok=True)

    def wait_until_ready(self) -> None:
        """Return once the server answers its health check (a port taken meanwhile: launched on another)."""
        timeout = float(os.environ.get(STARTUP_TIMEOUT, "20"))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() == PORT_TAKEN:
                self.process = self._launch()
            elif self.process.poll() is not None:
                raise RuntimeError(f"Prefect's temporary server exited with code {self.process.returncode}")
            if answers_health(self.api_url):
                return
            time.sleep(0.05)
        raise RuntimeError(f"Prefect's temporary server did not answer within {timeout:g} s")

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s) and drop its record."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._forget()


def start_temporary_server() -> TemporaryServer | None:
    """Launch a temporary Prefect server now, unless ``PREFECT_API_URL`` names one in the environment (a
    Prefect profile naming one is honoured by :func:`prefect_api`, which then stops this one)."""
    return None if os.environ.get("PREFECT_API_URL") else TemporaryServer()


@contextmanager
def prefect_api(server: TemporaryServer | None) -> Iterator[None]:
    """Inside, Prefect's client uses ``server`` once it answers, or the server Prefect's settings name."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    if server is None:
        yield
        return
    if PREFECT_API_URL.value():  # the active profile names a server
        server.stop()
        yield
        return
    server.wait_until_ready()
    server.serving = True
    with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
        yield

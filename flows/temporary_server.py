"""The temporary Prefect server a command starts when no ``PREFECT_API_URL`` is set, never left behind.

Prefect stops its temporary server when the process exits normally (``atexit``). The command line also
turns SIGTERM into a normal exit (:func:`stop_on_sigterm`), and records each server it starts under
``PREFECT_HOME`` with its own process id; a command killed outright (SIGKILL) cannot stop its server, so the
next command stops any recorded server whose command is gone (:func:`reap_orphaned_servers`).
"""

import atexit
import json
import os
import signal
import threading
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


def start_temporary_server() -> None:
    """Start Prefect's temporary server now (the flow then uses it) and record it until this process ends;
    does nothing when ``PREFECT_API_URL`` names a server."""
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import PREFECT_API_URL

    if PREFECT_API_URL.value():
        return
    server = SubprocessASGIServer()  # Prefect's own instance: its client finds it started
    server.start()
    if server.server_process is None:
        return
    folder = _records_folder()
    folder.mkdir(parents=True, exist_ok=True)
    record = folder / f"{server.server_process.pid}.json"
    entry = {"server_pid": server.server_process.pid, "owner_pid": os.getpid(), "port": server.port}
    record.write_text(json.dumps(entry), encoding="utf-8")
    atexit.register(record.unlink, missing_ok=True)

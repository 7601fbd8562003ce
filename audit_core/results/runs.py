"""Run history: every run of a run name is kept as ``OUTPUT_DIR/RUN_NAME/<run id>/``, committed whole.

The run id is the UTC time the run was written plus the config's digest (``20261203T081500.123Z-1a2b3c4d``),
so names sort by time. Locally a run is written into a staging folder beside its final name, renamed into
place, and then the ``latest`` symlink is switched to it. On an object store (``s3://``, ``gs://``,
``az://``) it is written into a staging folder of :func:`upload_staging_root` and uploaded with
``manifest.json`` last; ``latest`` is then a small file holding the run id. Either way a run is complete
exactly when its ``manifest.json`` exists, and readers list only complete runs, so nobody sees a half-written
run. Staging folders (and incomplete uploads) whose writing process died are removed by the next run of the
name on the same host (an upload's local staging folder by the next upload of any name);
``keep`` prunes the oldest runs only when set. A run folder of the old single-folder layout
(``OUTPUT_DIR/RUN_NAME/manifest.json``) is still read.
"""

import contextlib
import io
import json
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from audit_core.core.errors import AuditInputError
from audit_core.core.locations import Location, browser_url, filesystem, is_remote, join, parse_location

MANIFEST = "manifest.json"
LATEST = "latest"
METRICS = "metrics.parquet"
SCORES = "scores.parquet"  # every attack's score of every audit point
TRIALS = "tuning.parquet"  # a tuning's every trial
FRONT = "front.parquet"  # every defense's settings on the tuning front
REPORT = "report.html"
REPORT_LINK_EXPIRES_S = 7 * 24 * 3600  # the longest an S3 presigned URL lasts
SINGLE_FOLDER = "(single folder)"  # the run id shown for a run of the old single-folder layout
_STAGING = ".staging@"  # .staging@<host>@<pid>@<run id>: who writes it, so a later run can tell it is dead
_UPLOADER = ".uploader"  # in a run folder on an object store while it uploads: <host>@<pid>


def new_run_id(digest: str, now: datetime | None = None) -> str:
    """``<UTC time to the millisecond>Z-<digest>``: run ids sort by the time they were written."""
    now = datetime.now(UTC) if now is None else now.astimezone(UTC)
    return f"{now:%Y%m%dT%H%M%S}.{now.microsecond // 1000:03d}Z-{digest}"


def _writer() -> str:
    """``<host>@<pid>``: who writes a run, so that a later run can tell whether it died."""
    return f"{socket.gethostname()}@{os.getpid()}"


def _writer_is_dead(writer: str) -> bool:
    """True when ``writer`` (``<host>@<pid>``) was a process of this host that no longer runs; a process of
    another host may be alive, so it is never taken for dead."""
    host, _, pid = writer.rpartition("@")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # someone else's live process
        return False
    return False


def remove_dead_staging(root: Path) -> list[Path]:
    """Remove the staging folders under ``root`` left by processes of this host that no longer run; return
    them. Staging folders of live processes, and of other hosts, stay."""
    staging = root.glob(f"{_STAGING}*")  # .staging@<host>@<pid>@<run id>
    dead = [f for f in staging if _writer_is_dead(f.name.removeprefix(_STAGING).rsplit("@", 1)[0])]
    for folder in dead:
        shutil.rmtree(folder, ignore_errors=True)
    return dead


def remove_dead_uploads(root: str) -> list[str]:
    """Remove the incomplete run folders (no manifest) under the object-store folder ``root`` whose uploading
    process, of this host, no longer runs; return them."""
    fs, root_path = filesystem(root)
    fs.invalidate_cache()
    if not fs.isdir(root_path):
        return []
    dead = []
    for entry in fs.ls(root_path, detail=False):
        folder = entry.rstrip("/")
        uploader = f"{folder}/{_UPLOADER}"
        if fs.isfile(f"{folder}/{MANIFEST}") or not fs.isfile(uploader):
            continue
        if _writer_is_dead(fs.cat_file(uploader).decode()):
            fs.rm(folder, recursive=True)
            dead.append(folder)
    return dead


def _commit_local(staging: Path, root: Path, run_id: str) -> None:
    staging.rename(root / run_id)
    pointer = root / f".{LATEST}@{os.getpid()}"
    pointer.unlink(missing_ok=True)
    pointer.symlink_to(run_id, target_is_directory=True)
    os.replace(pointer, root / LATEST)  # switches the symlink atomically


def _commit_remote(staging: Path, root: str, run_id: str) -> None:
    fs, root_path = filesystem(root)
    remove_dead_uploads(root)
    final = f"{root_path}/{run_id}"
    files = sorted((p for p in staging.rglob("*") if p.is_file()), key=lambda p: p.name == MANIFEST)
    try:
        fs.pipe_file(f"{final}/{_UPLOADER}", _writer().encode())  # first: who uploads, should it die
        for path in files:  # manifest.json last: its arrival completes the run
            fs.put_file(str(path), f"{final}/{path.relative_to(staging).as_posix()}")
    except BaseException:
        with contextlib.suppress(Exception):
            fs.rm(final, recursive=True)
        raise
    fs.rm_file(f"{final}/{_UPLOADER}")
    fs.pipe_file(f"{root_path}/{LATEST}", run_id.encode())


def upload_staging_root() -> Path:
    """The local folder (this user's, in the system's temporary folder) where runs bound for an object store
    are staged before their upload; made readable by this user only."""
    root = Path(tempfile.gettempdir()) / f"dynaudit-uploads-{os.getuid()}"
    root.mkdir(mode=0o700, exist_ok=True)
    if root.is_symlink() or root.stat().st_uid != os.getuid():
        raise AuditInputError(
            f"{root} (where uploads are staged) belongs to another user; remove it or set TMPDIR to a folder "
            "of yours."
        )
    return root


@contextlib.contextmanager
def staged_run(output_dir: Location, run_name: str, run_id: str) -> Iterator[Path]:
    """Yield an empty local folder to write a run into; when the block ends without error it becomes
    ``output_dir/run_name/run_id`` and ``latest``, and otherwise nothing of it stays."""
    root = upload_staging_root() if is_remote(output_dir) else output_dir / run_name
    root.mkdir(parents=True, exist_ok=True)
    remove_dead_staging(root)
    staging = root / f"{_STAGING}{_writer()}@{run_id}"
    staging.mkdir()
    try:
        yield staging
        if is_remote(output_dir):
            _commit_remote(staging, join(output_dir, run_name), run_id)
        else:
            _commit_local(staging, output_dir / run_name, run_id)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@dataclass(frozen=True)
class RunRecord:
    """One complete run: its id, its folder and its manifest."""

    run_id: str
    location: Location
    manifest: dict[str, Any]


def run_files(folder: Location) -> list[str]:
    """The names of the files in a run folder, sorted."""
    fs, path = filesystem(folder)
    fs.invalidate_cache()
    return sorted(entry.rstrip("/").rsplit("/", 1)[-1] for entry in fs.ls(path, detail=False))


def read_run_file(folder: Location, name: str) -> bytes:
    """The bytes of one file of a run folder."""
    fs, path = filesystem(join(folder, name))
    return fs.cat_file(path)


def completed_runs(root: Location) -> list[RunRecord]:
    """The complete runs in ``root`` (``OUTPUT_DIR/RUN_NAME``), oldest first; a single-folder run of the old
    layout comes first of all."""
    fs, root_path = filesystem(root)
    fs.invalidate_cache()
    if not fs.isdir(root_path):
        return []
    records = []
    if fs.isfile(f"{root_path}/{MANIFEST}"):
        records.append(RunRecord(SINGLE_FOLDER, root, json.loads(read_run_file(root, MANIFEST))))
    for entry in sorted(fs.ls(root_path, detail=False)):
        name = entry.rstrip("/").rsplit("/", 1)[-1]
        if name == LATEST or name.startswith("."):
            continue
        if fs.isfile(f"{entry.rstrip('/')}/{MANIFEST}"):
            folder = join(root, name)
            records.append(RunRecord(name, folder, json.loads(read_run_file(folder, MANIFEST))))
    return records


def prune_runs(root: Location, keep: int) -> list[str]:
    """Remove all but the newest ``keep`` complete runs in ``root``; return the removed run ids."""
    removed = [r for r in completed_runs(root) if r.run_id != SINGLE_FOLDER][:-keep]
    for record in removed:
        fs, path = filesystem(record.location)
        fs.rm(path, recursive=True)
    return [r.run_id for r in removed]


def resolve_previous(value: str, output_dir: Location) -> Location:
    """The metrics.parquet that ``--previous`` names: a file (read_metrics checks it), a run folder, the
    folder of a run name (its last complete run), or a bare run name under ``output_dir`` (its last complete
    run)."""
    location = parse_location(value)
    fs, path = filesystem(location)
    if str(location).endswith(".parquet") or fs.isfile(path):
        return location
    bare_name = isinstance(location, Path) and len(location.parts) == 1 and not location.exists()
    runs = completed_runs(join(output_dir, value) if bare_name else location)
    if not runs:
        raise AuditInputError(
            f"--previous: '{value}' is neither a metrics.parquet, a run folder, nor a run name with a "
            f"complete run under '{output_dir}'."
        )
    return join(runs[-1].location, METRICS)


def headline_of(run: RunRecord) -> dict[str, Any]:
    """The run's chosen defense and strongest attack: from its manifest (a tuning run's has only the chosen
    setting), or for a run written before manifests held them, the undefended model's strongest attack read
    from its metrics."""
    if "headline" in run.manifest:
        return run.manifest["headline"]
    import pandas as pd  # only runs of the old layout need it, and with it the analysis modules

    from audit_core.results.summary import run_headline

    return run_headline(pd.read_parquet(io.BytesIO(read_run_file(run.location, METRICS))), None)


def verdict_status(verdict: dict[str, Any]) -> str:
    """A manifest's policy verdict: PASSED, UNRESOLVED or FAILED. A manifest written before verdicts had a
    status gets the one its rules give under the shipped ``unresolved: warn`` (a passed verdict with an
    undecided rule is UNRESOLVED)."""
    if "status" in verdict:
        return verdict["status"]
    if not verdict["passed"]:
        return "FAILED"
    undecided = any(rule.get("outcome") == "unresolved" for rule in verdict.get("rules", []))
    return "UNRESOLVED" if undecided else "PASSED"


def runs_table(runs: list[RunRecord]) -> str:
    """Markdown: one row per run, oldest first: run id, when it finished, the policy's verdict, the strongest
    attack on the chosen defense and that defense."""
    lines = [
        "| run | finished (UTC) | verdict | strongest attack (AUC) | chosen defense |",
        "|---|---|---|---|---|",
    ]
    for run in runs:
        finished = datetime.fromisoformat(run.manifest["finished_at"]).astimezone(UTC)
        verdict = run.manifest.get("verdict")
        headline = headline_of(run)
        attack = "—"
        if headline.get("strongest_attack") is not None:
            attack = f"{headline['strongest_attack']} ({headline['knowledge']}, {headline['auc']:.3f})"
        cells = [
            run.run_id,
            f"{finished:%Y-%m-%d %H:%M:%S}",
            "no policy" if verdict is None else verdict_status(verdict),
            attack,
            headline.get("chosen_defense") or "none",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report_link(run_dir: Location) -> tuple[str, str]:
    """The link to a run's HTML report and one sentence saying where it is: a URL a browser opens (presigned
    for a week where the store signs) on shared storage; on a local disk, the host and the path, since
    browsers do not open ``file://`` links from the Prefect UI."""
    report = join(run_dir, REPORT)
    url = browser_url(report, REPORT_LINK_EXPIRES_S)
    if url is not None:
        return url, f"Full report: `{report}` (report.pdf beside it; the report link opens it)."
    path = Path(report).resolve()
    where = f"Full report: `{path}` on host `{socket.gethostname()}`, a local file (report.pdf beside it)."
    return path.as_uri(), where

"""Run history: every run kept in its own folder, committed whole, with a ``latest`` pointer; locally and on a
real S3-compatible server (moto's server mode); a killed writer leaves no run visible as complete."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

import fsspec
import pandas as pd
import pytest

from audit_core.core.errors import AuditInputError
from audit_core.core.locations import join
from audit_core.results.runs import (
    LATEST,
    SINGLE_FOLDER,
    completed_runs,
    new_run_id,
    prune_runs,
    resolve_previous,
    runs_table,
    staged_run,
    upload_staging_root,
    verdict_status,
)

ROOT = Path(__file__).resolve().parents[2]


def _metrics(auc: float) -> pd.DataFrame:
    rows = [("undefended", "naive", attack, "auc", "all", auc - i * 0.1) for i, attack in enumerate("ab")]
    return pd.DataFrame(rows, columns=["condition", "knowledge", "attack", "metric", "slice", "value"])


def _fill(folder: Path, auc: float, verdict: bool | None = None) -> None:
    """What a run writes, in miniature: a metrics table, a report and the manifest last."""
    _metrics(auc).to_parquet(folder / "metrics.parquet")
    (folder / "report.html").write_text(f"<p>AUC {auc}</p>")
    manifest = {"finished_at": datetime.now(UTC).isoformat()}
    if verdict is not None:
        manifest["verdict"] = {"passed": verdict, "headline": "PASSED" if verdict else "FAILED"}
    (folder / "manifest.json").write_text(json.dumps(manifest))


def _write_run(output_dir, name: str, auc: float, verdict: bool | None = None) -> str:
    run_id = new_run_id("1a2b3c4d")
    with staged_run(output_dir, name, run_id) as folder:
        _fill(folder, auc, verdict)
    return run_id


def test_a_verdict_written_before_verdicts_had_a_status_is_listed_as_its_rules_give():
    held, undecided = {"outcome": "pass"}, {"outcome": "unresolved"}
    assert verdict_status({"passed": True, "rules": [held, undecided]}) == "UNRESOLVED"  # shipped: warn
    assert verdict_status({"passed": True, "rules": [held]}) == "PASSED"
    assert verdict_status({"passed": False, "rules": [undecided]}) == "FAILED"
    # a verdict with a status (this one under unresolved: pass) is read as written
    assert verdict_status({"passed": True, "status": "PASSED", "rules": [held, undecided]}) == "PASSED"


def test_run_ids_sort_by_time_and_carry_the_digest():
    early = new_run_id("1a2b3c4d", datetime(2026, 12, 3, 8, 15, 0, 123456, tzinfo=UTC))
    assert early == "20261203T081500.123Z-1a2b3c4d"
    assert early < new_run_id("1a2b3c4d", datetime(2026, 12, 3, 8, 15, 0, 124000, tzinfo=UTC))


def test_two_runs_leave_two_folders_and_latest_points_at_the_second(tmp_path):
    first = _write_run(tmp_path, "demo", 0.9, verdict=True)
    second = _write_run(tmp_path, "demo", 0.7, verdict=False)
    root = tmp_path / "demo"
    assert sorted(p.name for p in root.iterdir()) == sorted([first, second, LATEST])
    assert (root / LATEST).is_symlink() and os.readlink(root / LATEST) == second
    assert (root / LATEST / "report.html").read_text() == "<p>AUC 0.7</p>"
    assert (root / first / "report.html").read_text() == "<p>AUC 0.9</p>", "the earlier run is kept"
    assert [r.run_id for r in completed_runs(root)] == [first, second]
    assert resolve_previous("demo", tmp_path) == root / second / "metrics.parquet"
    assert resolve_previous(str(root), tmp_path) == root / second / "metrics.parquet"
    assert resolve_previous(str(root / first), tmp_path) == root / first / "metrics.parquet"
    table = runs_table(completed_runs(root)).splitlines()
    assert table[2].startswith(f"| {first} |") and "| PASSED |" in table[2]
    assert table[3].startswith(f"| {second} |") and "| FAILED |" in table[3]


def test_a_failed_run_leaves_nothing_and_latest_unchanged(tmp_path):
    kept = _write_run(tmp_path, "demo", 0.9)
    with pytest.raises(RuntimeError), staged_run(tmp_path, "demo", new_run_id("1a2b3c4d")) as folder:
        (folder / "metrics.parquet").write_bytes(b"half")
        raise RuntimeError("the report failed")
    assert sorted(p.name for p in (tmp_path / "demo").iterdir()) == [kept, LATEST]
    assert os.readlink(tmp_path / "demo" / LATEST) == kept


def test_keep_prunes_the_oldest_runs_only_when_asked(tmp_path):
    ids = [_write_run(tmp_path, "demo", 0.9) for _ in range(3)]
    assert [r.run_id for r in completed_runs(tmp_path / "demo")] == ids
    assert prune_runs(tmp_path / "demo", keep=2) == ids[:1]
    assert [r.run_id for r in completed_runs(tmp_path / "demo")] == ids[1:]
    assert os.readlink(tmp_path / "demo" / LATEST) == ids[2]


def test_a_single_folder_run_of_the_old_layout_is_still_read(tmp_path):
    legacy = tmp_path / "demo"
    legacy.mkdir()
    _fill(legacy, 0.8)
    assert resolve_previous("demo", tmp_path) == legacy / "metrics.parquet"
    newer = _write_run(tmp_path, "demo", 0.6)
    assert [r.run_id for r in completed_runs(legacy)] == [SINGLE_FOLDER, newer]
    assert resolve_previous("demo", tmp_path) == legacy / newer / "metrics.parquet"
    row = runs_table(completed_runs(legacy)).splitlines()[2]
    assert row.startswith(f"| {SINGLE_FOLDER} |") and "| a (naive, 0.800) |" in row


def test_previous_that_names_no_run_is_one_sentence(tmp_path):
    with pytest.raises(AuditInputError, match=r"^--previous: 'nightly' is neither a metrics.parquet"):
        resolve_previous("nightly", tmp_path)


_SLOW_WRITER = """
import sys, time
from pathlib import Path
from audit_core.core.locations import parse_location
from audit_core.results.runs import new_run_id, staged_run
with staged_run(parse_location({output_dir!r}), "demo", new_run_id("1a2b3c4d")) as folder:
    for i in range(400):
        (Path(folder) / f"part-{{i:03d}}.bin").write_bytes(b"x" * 1000)
        if i == 0:
            print("writing", flush=True)
        time.sleep({pause})
    (Path(folder) / "manifest.json").write_text("{{}}")
"""


def _start_writer(output_dir: str, pause: float, tmp: Path | None = None) -> subprocess.Popen:
    code = textwrap.dedent(_SLOW_WRITER.format(output_dir=output_dir, pause=pause))
    env = {**os.environ, "PYTHONPATH": str(ROOT), **({"TMPDIR": str(tmp)} if tmp else {})}
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, text=True)


def test_a_killed_local_run_leaves_a_staging_folder_that_the_next_run_removes(tmp_path):
    output_dir = tmp_path / "out"
    writer = _start_writer(str(output_dir), pause=0.01)
    root = output_dir / "demo"
    deadline = time.monotonic() + 60
    while not any(root.glob(".staging@*/part-010.bin")):
        assert writer.poll() is None and time.monotonic() < deadline, "the writer ended before the kill"
        time.sleep(0.02)
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    assert [p.name.startswith(".staging@") for p in root.iterdir()] == [True]
    assert completed_runs(root) == [], "a killed run is never a complete run"

    rerun = _write_run(output_dir, "demo", 0.7)
    assert sorted(p.name for p in root.iterdir()) == [rerun, LATEST], "no staging folder survives"


def test_runs_on_s3_are_uploaded_manifest_last_with_a_latest_pointer_file(s3_bucket):
    output_dir = f"{s3_bucket}/out"
    first = _write_run(output_dir, "demo", 0.9)
    second = _write_run(output_dir, "demo", 0.7)
    fs = fsspec.filesystem("s3")
    fs.invalidate_cache()
    root = f"{output_dir}/demo"
    assert fs.cat_file(f"{root}/{LATEST}") == second.encode()
    assert fs.cat_file(f"{root}/{first}/report.html") == b"<p>AUC 0.9</p>"
    assert [r.run_id for r in completed_runs(root)] == [first, second]
    assert resolve_previous("demo", output_dir) == join(root, second, "metrics.parquet")
    assert resolve_previous(root, "out") == f"{root}/{second}/metrics.parquet"
    assert pd.read_parquet(resolve_previous(root, "out")).value.max() == pytest.approx(0.7)


def test_a_killed_upload_leaves_no_run_visible_as_complete(s3_bucket, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where this process and the writer stage
    output_dir = f"{s3_bucket}/out"
    kept = _write_run(output_dir, "demo", 0.9)
    writer = _start_writer(output_dir, pause=0, tmp=tmp_path)  # writes locally, then uploads 401 objects
    fs = fsspec.filesystem("s3")
    deadline = time.monotonic() + 120
    while not fs.glob(f"{output_dir}/demo/*/part-*.bin"):
        assert writer.poll() is None and time.monotonic() < deadline, "the upload ended before the kill"
        fs.invalidate_cache()
        time.sleep(0.02)
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    fs.invalidate_cache()
    partial = [p for p in fs.ls(f"{output_dir}/demo") if not p.endswith((kept, LATEST))]
    assert len(partial) == 1, "the upload was killed half way"
    assert fs.isfile(f"{partial[0]}/.uploader") and not fs.isfile(f"{partial[0]}/manifest.json")
    assert [r.run_id for r in completed_runs(f"{output_dir}/demo")] == [kept]
    assert fs.cat_file(f"{output_dir}/demo/{LATEST}") == kept.encode()
    (staging,) = upload_staging_root().iterdir()
    assert staging.name.startswith(".staging@") and len(list(staging.iterdir())) == 401
    assert resolve_previous("demo", output_dir) == f"{output_dir}/demo/{kept}/metrics.parquet"

    rerun = _write_run(output_dir, "demo", 0.7)
    fs.invalidate_cache()
    left = sorted(p.rsplit("/", 1)[1] for p in fs.ls(f"{output_dir}/demo"))
    assert left == sorted([kept, rerun, LATEST]), "the next run removes the dead upload"
    assert list(upload_staging_root().iterdir()) == [], "and the dead upload's local staging folder"
    assert upload_staging_root().stat().st_mode & 0o777 == 0o700
    assert fs.ls(f"{output_dir}/demo/{rerun}", detail=False) == [
        f"{output_dir}/demo/{rerun}/{name}".removeprefix("s3://")
        for name in ("manifest.json", "metrics.parquet", "report.html")
    ]


@pytest.mark.slow  # two audits with their PDF reports: about 40 s on 2 busy cores
def test_keep_in_a_config_prunes_after_each_run_and_the_manifest_holds_the_headline(tmp_path):
    from audit_core.audit.run import run_audit
    from audit_core.config import parse_config
    from tests.audit_core.test_devices import TINY

    config = parse_config({**TINY, "run_name": "nightly", "output_dir": str(tmp_path), "keep": 1})
    first = run_audit(config, write=True).run_dir
    second = run_audit(config, write=True).run_dir
    assert first != second and second.parent == tmp_path / "nightly"
    assert sorted(p.name for p in (tmp_path / "nightly").iterdir()) == sorted([second.name, LATEST])
    [run] = completed_runs(tmp_path / "nightly")
    assert run.manifest["headline"]["chosen_defense"] == "dynanoise(sigma0_sq=0.3, lam=2, T=10)"
    assert run.manifest["headline"]["strongest_attack"] in TINY["attacks"]
    assert run.manifest["device"] == "cpu"


def test_an_upload_staging_folder_planted_as_a_link_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / f"dynaudit-uploads-{os.getuid()}").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(AuditInputError, match=r"\(where uploads are staged\) belongs to another user"):
        upload_staging_root()

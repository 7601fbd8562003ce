"""Writes a run folder atomically: Parquet tables, the report files and ``manifest.json``.

Everything is written into a hidden staging folder next to ``out/<run>/`` and renamed into place only when
complete, so a failed run never leaves a half-written folder behind.
"""

import contextlib
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from audit_core.core.errors import AuditInputError
from audit_core.core.files import sha256_file

SCHEMA_VERSION = "1"


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # a name longer than the file system allows
        return False


def check_output_dir(output_dir: Path, name: str = "Output directory") -> None:
    """Fail early, with one sentence, when run folders (or, as ``name`` says, other files) cannot be created
    under ``output_dir``."""
    existing = next((p for p in [output_dir, *output_dir.parents] if _exists(p)), None)
    if existing is None or not existing.is_dir():
        raise AuditInputError(f"{name} '{output_dir}' cannot be created: '{existing}' is not a folder.")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise AuditInputError(f"{name} '{output_dir}' is not writable; choose a folder you can write.")
    longest = max(output_dir.parts, key=lambda part: len(os.fsencode(part)))
    name_max = os.pathconf(existing, "PC_NAME_MAX")
    if len(os.fsencode(longest)) > name_max:
        raise AuditInputError(
            f"{name} '{output_dir}' has a folder name of {len(os.fsencode(longest))} bytes; this file system "
            f"allows at most {name_max} per name."
        )


@contextlib.contextmanager
def staged_run_folder(output_dir: Path, run_name: str) -> Iterator[Path]:
    """Yield an empty staging folder; on success it replaces ``output_dir/run_name``, on error it vanishes."""
    output_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{run_name}.staging-", dir=output_dir))
    staging.chmod(0o755)  # mkdtemp makes it private; a run folder is meant to be read by others
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    final = output_dir / run_name
    retired = output_dir / f".{run_name}.old-{uuid.uuid4().hex[:8]}"
    if final.exists():
        final.rename(retired)
    staging.rename(final)
    shutil.rmtree(retired, ignore_errors=True)


def write_parquet(frame: pd.DataFrame, path: Path, kind: str) -> None:
    """Write ``frame`` with the artifact kind and schema version in the Parquet key-value metadata."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    metadata = {
        **(table.schema.metadata or {}),
        b"dynaudit.kind": kind.encode(),
        b"dynaudit.schema_version": SCHEMA_VERSION.encode(),
    }
    pq.write_table(table.replace_schema_metadata(metadata), path)


def write_manifest(folder: Path, provenance: dict[str, Any]) -> Path:
    """``manifest.json``: the provenance plus the name, size and SHA-256 of every file in the folder."""
    files = {
        p.name: {"bytes": p.stat().st_size, "sha256": sha256_file(p)}
        for p in sorted(folder.iterdir())
        if p.is_file() and p.name != "manifest.json"
    }
    manifest = {"schema_version": SCHEMA_VERSION, **provenance, "files": files}
    path = folder / "manifest.json"
    path.write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return path

"""The files of a run folder: Parquet tables with their kind and schema version, and ``manifest.json``;
and the output location's check before any work (``results/runs.py`` keeps and commits the run folders)."""

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from audit_core.core.errors import AuditInputError
from audit_core.core.files import sha256_file
from audit_core.core.locations import OBJECT_STORES, Location, filesystem

SCHEMA_VERSION = "1"


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # a name longer than the file system allows
        return False


def _check_object_store(url: str) -> None:
    scheme = url.partition("://")[0].lower()
    try:
        fs, path = filesystem(url)
    except ImportError:
        raise AuditInputError(
            f"Output directory '{url}' needs the {OBJECT_STORES[scheme]} package; install it "
            f"(pip install {OBJECT_STORES[scheme]})."
        ) from None
    bucket = path.split("/", 1)[0]
    try:
        found = fs.exists(bucket)
    except Exception as error:  # each store raises its own errors for credentials and networks
        raise AuditInputError(f"Output directory '{url}' cannot be reached: {error}.") from None
    if not found:
        raise AuditInputError(f"Output directory '{url}': bucket '{bucket}' does not exist; create it first.")


def check_output_dir(output_dir: Location, name: str = "Output directory") -> None:
    """Fail early, with one sentence, when run folders (or, as ``name`` says, other files) cannot be created
    under ``output_dir`` (a folder, or an object-store URL whose bucket must exist and be reachable with the
    environment's credentials)."""
    if isinstance(output_dir, str):
        _check_object_store(output_dir)
        return
    existing = next((p for p in [output_dir, *output_dir.parents] if _exists(p)), None)
    if existing is None or not existing.is_dir():
        raise AuditInputError(f"{name} '{output_dir}' cannot be created: '{existing}' is not a folder.")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise AuditInputError(f"{name} '{output_dir}' is not writable; choose a folder you can write.")
    longest = max(output_dir.parts, key=lambda part: len(os.fsencode(part)), default="")
    name_max = os.pathconf(existing, "PC_NAME_MAX")
    if len(os.fsencode(longest)) > name_max:
        raise AuditInputError(
            f"{name} '{output_dir}' has a folder name of {len(os.fsencode(longest))} bytes; this file system "
            f"allows at most {name_max} per name."
        )


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

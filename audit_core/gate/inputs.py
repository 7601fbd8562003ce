"""What the gate reads: a policy file, an audit's metrics table and scores, and a previous run's config
digest, each checked with one sentence on a problem."""

import io
import json
from pathlib import Path
from typing import Any

import pandas as pd

from audit_core.audit.analysis import METRIC_COLUMNS
from audit_core.config import AuditConfig, load_model
from audit_core.config.policy import GatePolicy, policy_mismatch
from audit_core.core.errors import AuditInputError, ConfigError
from audit_core.core.locations import Location, filesystem, parse_location
from audit_core.results.runs import MANIFEST, SCORES, read_run_file


def load_policy(path: str | Path) -> GatePolicy:
    """Read and validate a YAML gate policy."""
    return load_model(GatePolicy, path, "Policy file")


def check_policy(policy: GatePolicy, config: AuditConfig) -> None:
    """Fail before any audit work when ``policy`` asks for numbers ``config``'s audit will not produce."""
    problem = policy_mismatch(policy, config.knowledge, config.attacks, config.defended_conditions)
    if problem is not None:
        raise ConfigError(problem)


def read_metrics(path: Location) -> pd.DataFrame:
    """A dynaudit ``metrics.parquet`` table, local or on an object store (a URL); any other file is an
    :class:`AuditInputError`."""
    fs, fs_path = filesystem(parse_location(path))
    if not fs.isfile(fs_path):
        raise AuditInputError(f"Metrics file '{path}' does not exist; expected a dynaudit metrics.parquet.")
    try:
        with fs.open(fs_path, "rb") as handle:
            frame = pd.read_parquet(handle)
    except Exception:  # pyarrow raises several types for files that are not Parquet
        raise AuditInputError(f"Metrics file '{path}' is not a readable Parquet file.") from None
    missing = [c for c in METRIC_COLUMNS if c not in frame.columns]
    if missing:
        raise AuditInputError(
            f"Metrics file '{path}' has no column '{missing[0]}'; expected a dynaudit metrics.parquet."
        )
    return frame


def _folder(metrics_path: Location) -> Location:
    location = parse_location(metrics_path)
    return location.parent if isinstance(location, Path) else location.rsplit("/", 1)[0]


def scores_beside(metrics_path: Location) -> pd.DataFrame | None:
    """The scores.parquet beside a run's metrics.parquet, local or on an object store (None if absent or
    unreadable): the TPR's bounds are read from it."""
    try:
        return pd.read_parquet(io.BytesIO(read_run_file(_folder(metrics_path), SCORES)))
    except (OSError, ValueError):
        return None


def previous_manifest(metrics_path: Location) -> dict[str, Any]:
    """The manifest.json beside a previous run's metrics.parquet, local or on an object store (empty if
    absent or unreadable): its ``config_digest`` and ``chosen`` are what the comparison needs."""
    try:
        manifest = json.loads(read_run_file(_folder(metrics_path), MANIFEST))
    except (OSError, ValueError):
        return {}
    return manifest if isinstance(manifest, dict) else {}

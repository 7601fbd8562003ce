"""A run's provenance: config (secrets masked), seed, data, fingerprints, model-cache counts, versions."""

import platform
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

import torch

from audit_core.config import AuditConfig
from audit_core.config.secrets import secret_bytes
from audit_core.core.devices import resolve_device
from audit_core.core.record_ids import RecordKey
from audit_core.data import AuditData

PACKAGES = (
    "dynaudit",
    "numpy",
    "scipy",
    "scikit-learn",
    "torch",
    "pandas",
    "pyarrow",
    "prefect",
    "weasyprint",
    "skops",
    "onnxruntime",
    "safetensors",
)


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that shape the numbers, and torch's thread count (float sums, and so
    trained weights, can differ in the last bits between thread counts)."""
    versions = {"python": platform.python_version(), "torch_threads": str(torch.get_num_threads())}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def run_provenance(
    config: AuditConfig,
    data: AuditData,
    fingerprints: dict[str, str],
    model_cache: dict[str, dict[str, int]],
    started_at: datetime,
) -> dict[str, Any]:
    """Config (secrets masked), seed, data sizes and sources, fingerprints, model-cache counts and package
    versions of a run."""
    return {
        "run_name": config.run_name,
        "started_at": started_at.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "seed": config.seed,
        "device": resolve_device(config.device),
        "config": config.model_dump(mode="json"),
        "data": {
            "name": data.name,
            "n_classes": data.n_classes,
            "sizes": {part: len(split) for part, split in data.splits().items()},
            "record_shape": list(data.members.features.shape[1:]),
            "sources": data.sources,
        },
        "fingerprints": fingerprints,
        "model_cache": model_cache,
        "versions": package_versions(),
    }


def record_key(config: AuditConfig) -> RecordKey:
    """The key of the run's record hashes: the config's secret ``id_salt`` (resolved), else a random key."""
    if config.id_salt is None:
        return RecordKey.random()
    return RecordKey(secret_bytes(config.id_salt, "id_salt"), "id_salt")

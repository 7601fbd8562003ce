"""NumPy ``.npz`` archives, one per audit part, read without unpickling (object arrays are refused)."""

import zipfile
from functools import partial
from pathlib import Path

import numpy as np

from audit_core.config import NpzDataConfig
from audit_core.core.errors import DataError
from audit_core.core.paths import existing_file
from audit_core.core.records import exact_float
from audit_core.data.base import AuditData, Split, integer_labels, load_part_files


def _array(archive: np.lib.npyio.NpzFile, key: str, path: Path, field: str) -> np.ndarray:
    if key not in archive.files:
        raise DataError(
            f"{field}: archive '{path}' has no array {key!r}; its arrays are {sorted(archive.files)}."
        )
    try:
        return archive[key]
    except ValueError:  # numpy refuses object arrays when allow_pickle is False
        raise DataError(
            f"{field}: array {key!r} in '{path}' holds pickled Python objects, which dynaudit does not load; "
            "expected a numeric or string array."
        ) from None


def _read_part(config: NpzDataConfig, path: Path, field: str) -> Split:
    existing_file(path, field, "a NumPy .npz archive")
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile):
        raise DataError(
            f"{field}: '{path}' is not a readable .npz archive; expected numpy.savez output."
        ) from None
    with archive:
        features = _array(archive, config.features_key, path, field)
        labels = _array(archive, config.labels_key, path, field)
        ids = (
            _array(archive, config.ids_key, path, field).astype(str)
            if config.ids_key
            else np.array([f"{path.name}:{row}" for row in range(len(labels))])
        )
    if features.ndim < 2 or len(features) != len(labels) or labels.ndim != 1:
        hint = (
            f" (its labels are one-hot rows: save {config.labels_key}.argmax(axis=1))"
            if _one_hot(labels)
            else ""
        )
        raise DataError(
            f"{field}: '{path}' has {config.features_key!r} of shape {features.shape} and "
            f"{config.labels_key!r} of shape {labels.shape}; expected (n, ...) records and (n,) labels{hint}."
        )
    records = (
        features.astype(exact_float(features.dtype))
        if features.dtype.kind in "biuf"
        else features.astype(object)
    )
    where = f"array {config.labels_key!r} of '{path}'"
    return Split(records, integer_labels(labels, where, config.classes, config.classes_named_by), ids)


def load_npz_data(config: NpzDataConfig) -> AuditData:
    """One archive per audit part, each with the configured feature, label and (optional) id arrays."""
    return load_part_files("npz", config, partial(_read_part, config))


def _one_hot(labels: np.ndarray) -> bool:
    """Whether ``labels`` are rows of zeros with a single one: class indices saved one-hot."""
    return (
        labels.ndim == 2
        and labels.size > 0
        and labels.dtype.kind in "biuf"
        and bool(((labels == 0) | (labels == 1)).all() and (labels.sum(axis=1) == 1).all())
    )

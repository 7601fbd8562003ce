"""Precomputed outputs as the target (black-box audits) or as the attacker's reference models.

A Parquet table with one row per record: an id column matching the audit data's ids and one column per
class holding logits or probabilities. Reference tables also carry a boolean column saying whether the
record trained that reference model.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from audit_core.config import PredictionsTargetConfig
from audit_core.core.errors import TargetError, first_row
from audit_core.core.files import sha256_file
from audit_core.data import Split
from audit_core.data.table import read_table, require_columns
from audit_core.targets.base import OutputKind, as_logits


@dataclass(frozen=True)
class PredictionTable:
    """Logits ``(n, k)`` by record id, read from one Parquet file."""

    ids: np.ndarray
    logits: np.ndarray
    frame: pd.DataFrame
    digest: str
    source: str


def read_prediction_table(
    path: Path, *, field: str, id_column: str, columns: list[str] | None, output: OutputKind, extra: list[str]
) -> PredictionTable:
    """Read and check a predictions table: unique ids, finite numeric outputs, probabilities when so declared.

    ``extra`` names further required columns (kept in ``frame``); output columns default to all the others.
    """
    frame = read_table(path, field)
    require_columns(frame, [id_column, *extra, *(columns or [])], path, field)
    columns = columns or [c for c in frame.columns if c not in (id_column, *extra)]
    source = f"{field} '{path}'"
    if len(columns) < 2:
        raise TargetError(
            f"{source} has {len(columns)} output columns; expected one per class (at least two)."
        )
    values = frame[columns]
    if not all(pd.api.types.is_numeric_dtype(t) for t in values.dtypes):
        raise TargetError(f"{source} has non-numeric output columns; expected numbers in {columns}.")
    values = values.to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        col = np.argwhere(bad)[0][1]  # in the first row with a bad output
        n_bad = int(bad.any(axis=1).sum())
        raise TargetError(
            f"{source} has {n_bad} {'row' if n_bad == 1 else 'rows'} with NaN or infinite outputs (e.g. "
            f"column {columns[col]!r} of its {first_row(bad.any(axis=1))}); expected finite {output}."
        )
    ids = frame[id_column].astype(str).to_numpy()
    if len(np.unique(ids)) != len(ids):
        raise TargetError(f"{source} lists some ids more than once; expected one row per record.")
    return PredictionTable(ids, as_logits(values, output, source), frame, sha256_file(path), source)


def lookup(table: PredictionTable, ids: np.ndarray) -> np.ndarray:
    """The rows of ``table`` for ``ids``, in that order; every id must be present."""
    index = pd.Index(table.ids).get_indexer(ids.astype(str))
    if (index < 0).any():
        missing = ids[index < 0]
        raise TargetError(
            f"{table.source} has no row for {len(missing)} of {len(ids)} queried records (e.g. the id of "
            f"{first_row(index < 0, ' of the set queried')}); expected a row for every member, non-member "
            "and test record."
        )
    return index


class PredictionsTarget:
    """Answers queries from a predictions table by record id; it cannot be queried on new inputs."""

    def __init__(self, table: PredictionTable) -> None:
        self.table = table

    def query(self, records: Split) -> np.ndarray:
        return self.table.logits[lookup(self.table, records.ids)]

    def fingerprint(self) -> str:
        return self.table.digest

    def covers(self, records: Split) -> bool:
        return bool(np.isin(records.ids.astype(str), self.table.ids).all())


def open_predictions(config: PredictionsTargetConfig) -> PredictionsTarget:
    """Read the table; the fingerprint is the file's SHA-256."""
    table = read_prediction_table(
        config.path,
        field="target.path",
        id_column=config.id_column,
        columns=config.columns,
        output=config.output,
        extra=[],
    )
    return PredictionsTarget(table)

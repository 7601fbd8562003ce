"""Reference models' outputs the user computed elsewhere (``references.kind: predictions``): one Parquet
table with a row per (model, record), whether the record trained that model, and one column per class;
checked completely, one sentence for each problem."""

import numpy as np
import pandas as pd

from audit_core.config import PredictionsReferencesConfig
from audit_core.core.errors import DataError, first_row
from audit_core.core.files import sha256_file
from audit_core.data import AuditData
from audit_core.data.table import read_table, require_columns
from audit_core.targets.base import as_logits, combined_digest
from audit_core.targets.predictions import PredictionsTarget, PredictionTable

FIELD = "references.path"


def _output_columns(frame: pd.DataFrame, config: PredictionsReferencesConfig, n_classes: int, source: str):
    named = (config.id_column, config.model_column, config.in_training_column)
    columns = config.columns or [c for c in frame.columns if c not in named]
    if len(columns) != n_classes:
        raise DataError(
            f"{source} has {len(columns)} output columns {[str(c) for c in columns][:6]}; expected one per "
            f"class ({n_classes}) in class order (set references.columns)."
        )
    if not all(pd.api.types.is_numeric_dtype(t) for t in frame[columns].dtypes):
        raise DataError(f"{source} has non-numeric output columns; expected numbers in {columns}.")
    values = frame[columns].to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values).all(axis=1)
    if bad.any():
        raise DataError(
            f"{source} has {int(bad.sum())} rows with NaN or infinite outputs (e.g. record "
            f"{str(frame[config.id_column].iloc[np.flatnonzero(bad)[0]])!r}); expected finite "
            f"{config.output}."
        )
    return as_logits(values, config.output, source)


def _model_numbers(frame: pd.DataFrame, column: str, n_models: int, source: str) -> np.ndarray:
    models = frame[column]
    expected = set(range(n_models))
    found = set(models.unique().tolist()) if pd.api.types.is_integer_dtype(models) else None
    if found != expected:
        shown = sorted(map(str, models.unique()))[:6]
        raise DataError(
            f"{source}: column {column!r} holds models {shown}; expected the integers 0..{n_models - 1}, one "
            f"per reference model (reference_models: {n_models})."
        )
    return models.to_numpy()


def _in_training(frame: pd.DataFrame, column: str, source: str) -> np.ndarray:
    values = frame[column]
    if not (values.dtype == bool or set(values.unique().tolist()) <= {0, 1}):
        raise DataError(f"{source}: column {column!r} holds {values.dtype} values; expected true/false.")
    return values.to_numpy(dtype=bool)


def read_reference_predictions(
    config: PredictionsReferencesConfig, data: AuditData, n_models: int
) -> tuple[list[PredictionsTarget], np.ndarray]:
    """One target per reference model answering from the table by record id, and the IN/OUT masks
    ``(n_models, audit points)``. Every model must cover every audit point and population record, and every
    audit point must be IN for some models and OUT for others."""
    frame = read_table(config.path, FIELD)
    names = [config.id_column, config.model_column, config.in_training_column, *(config.columns or [])]
    require_columns(frame, names, config.path, FIELD)
    source = f"{FIELD} '{config.path}'"
    logits = _output_columns(frame, config, data.n_classes, source)
    models = _model_numbers(frame, config.model_column, n_models, source)
    in_training = _in_training(frame, config.in_training_column, source)
    ids = frame[config.id_column].astype(str).to_numpy()
    if pd.MultiIndex.from_arrays([models, ids]).has_duplicates:
        raise DataError(f"{source} lists some (model, record) pairs more than once; expected one row each.")
    points, digest = data.audit_points(), sha256_file(config.path)
    targets, in_mask = [], np.zeros((n_models, len(points)), dtype=bool)
    for model in range(n_models):
        rows = np.flatnonzero(models == model)
        for part, records in (("audit point", points), ("population record", data.population)):
            found = np.isin(records.ids.astype(str), ids[rows])
            if not found.all():
                row = (
                    data.audit_point_row(~found)
                    if part == "audit point"
                    else first_row(~found, " of the population")
                )
                raise DataError(
                    f"{source}: model {model} has no row for {int((~found).sum())} of the {len(records)} "
                    f"{part}s (e.g. the id of {row}); expected a row for every member, "
                    "non-member and population record for every model."
                )
        index = pd.Index(ids[rows]).get_indexer(points.ids.astype(str))
        in_mask[model] = in_training[rows][index]
        table = PredictionTable(
            ids[rows], logits[rows], frame.iloc[rows], combined_digest(digest, str(model)), source
        )
        targets.append(PredictionsTarget(table))
    for always, word in ((in_mask.all(axis=0), "IN"), ((~in_mask).all(axis=0), "OUT")):
        if always.any():
            row = data.audit_point_row(always)
            raise DataError(
                f"{source}: {int(always.sum())} of the {len(points)} audit points are {word} for every "
                f"model (e.g. {row}); expected each audit point IN for some models and OUT "
                "for others."
            )
    return targets, in_mask

"""Parquet and CSV tables: one row per record, feature columns, a label column and an optional id column."""

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from audit_core.config import TableDataConfig
from audit_core.core.errors import DataError, hidden
from audit_core.core.paths import existing_file, suffix_of
from audit_core.core.records import exact_float
from audit_core.data.base import AuditData, Split, integer_labels, load_part_files

PARQUET = (".parquet", ".pq")
READERS: dict[str, Callable[[Path], pd.DataFrame]] = {
    **dict.fromkeys(PARQUET, pd.read_parquet),
    ".csv": pd.read_csv,
}


#: pandas' name for a CSV's first column without a header: the index ``to_csv`` writes by default.
UNNAMED_INDEX = "Unnamed: 0"
#: Separators that a CSV file with no comma in its header line is read as written with, to say so.
OTHER_SEPARATORS = {";": "semicolons", "\t": "tabs", "|": "vertical bars"}


def read_table(path: Path, field: str) -> pd.DataFrame:
    """Read a Parquet or CSV file named by config ``field``, with one-sentence errors."""
    existing_file(path, field, "a Parquet or CSV table")
    reader = READERS[suffix_of(path, READERS, field, "a table")]
    if reader is pd.read_csv:
        _require_commas(path, field)
    try:
        return reader(path)
    except Exception as error:  # pyarrow and pandas raise many types for a corrupt file
        raise DataError(
            f"{field}: '{path}' is not a readable {path.suffix[1:]} table ({type(error).__name__}); "
            "expected a valid file."
        ) from None


def read_part_table(path: Path, field: str) -> pd.DataFrame:
    """An audit part's table: one Parquet or CSV file (:func:`read_table`), or a folder of Parquet files, as
    Spark, Dask or pandas write a dataset (``part-00000.parquet``, ...): its files in name order, one table
    (the files beside them, such as ``_SUCCESS``, left alone)."""
    if not path.is_dir():
        return read_table(path, field)
    files = sorted(f for f in path.iterdir() if f.suffix.lower() in PARQUET and f.is_file())
    if not files:
        inside = sorted(f.name for f in path.iterdir())[:3]
        state = f"holds no Parquet file (only {inside})" if inside else "is empty"
        raise DataError(
            f"{field}: folder '{path}' {state}; expected a Parquet or CSV table, or a folder of Parquet "
            "files (.parquet) that together make the table."
        )
    return pd.concat([read_table(file, field) for file in files], ignore_index=True)


def _require_commas(path: Path, field: str) -> None:
    """Refuse a CSV file whose header line has no comma: every table has at least a feature and a label
    column, so its fields are separated by something else (semicolons, as spreadsheets with decimal commas
    write them, or tabs) and pandas would read each line as one field."""
    with path.open("rb") as file:
        header = file.readline(1 << 16).decode("utf-8-sig", errors="replace").rstrip("\r\n")
    if "," in header or not header.strip():  # an empty file gets pandas' EmptyDataError
        return
    used = next((name for separator, name in OTHER_SEPARATORS.items() if separator in header), None)
    shown = header if len(header) <= 60 else header[:57] + "..."
    raise DataError(
        f"{field}: '{path}' has no comma in its header line ({shown!r})"
        + (f"; its fields are separated by {used}" if used else "")
        + "; expected a comma-separated table with a header row and '.' as the decimal point (or Parquet)."
    )


def require_columns(frame: pd.DataFrame, columns: list[str], path: Path, field: str, of: str = "") -> None:
    """Raise a :class:`DataError` naming the first of ``columns`` missing from ``frame`` (one ``of`` what)."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(
            f"{field}: table '{path}' has no column {missing[0]!r}{of}; its columns are "
            f"{[str(c) for c in frame.columns]}."
        )


def record_array(frame: pd.DataFrame, where: str = "the table") -> np.ndarray:
    """Feature columns as floats when all are numeric (float32, or float64 where a column needs it to keep its
    values exactly: :func:`~audit_core.core.records.exact_float`; a decimal column as float64, missing as
    NaN), a vector column (a Parquet list of numbers per record, e.g. an embedding) as its numbers side by
    side (:func:`_with_vectors`), else as an object array of raw records."""
    decimals = [name for name in frame.columns if _holds_decimals(frame[name])]
    frame = frame.astype(dict.fromkeys(decimals, np.float64)) if decimals else frame
    vectors = {name for name in frame.columns if _holds_vectors(frame[name])}
    if vectors:
        return _with_vectors(frame, vectors, where)
    if all(pd.api.types.is_numeric_dtype(dtype) for dtype in frame.dtypes):
        return frame.to_numpy(dtype=exact_float(*frame.dtypes))
    return np.column_stack([_values(frame[name], object) for name in frame.columns])


def _holds_decimals(column: pd.Series) -> bool:
    """Whether a column holds exact decimals (a Parquet ``decimal128`` column, as Spark and databases write
    amounts; pandas reads it as ``Decimal`` objects), which models take as the floats they convert to."""
    return column.dtype == object and pd.api.types.infer_dtype(column, skipna=True) == "decimal"


def _values(column: pd.Series, dtype: type | np.dtype) -> np.ndarray:
    """A column's values as a numpy array of ``dtype``; a missing value of pandas' nullable types (``Int64``,
    ``boolean``, ``string``: ``pd.NA``, which neither scikit-learn nor float conversion reads) as NaN."""
    if getattr(column.dtype, "na_value", None) is pd.NA:
        return column.to_numpy(dtype=dtype, na_value=np.nan)
    return column.to_numpy(dtype=dtype)


#: What ``pandas.api.types.infer_dtype`` calls a column with text among its values.
TEXT_KINDS = frozenset({"string", "bytes", "mixed", "mixed-integer"})
#: What a Parquet list column's cells read as.
SEQUENCES = (list, tuple, np.ndarray)


def _holds_vectors(column: pd.Series) -> bool:
    """Whether a column's cells are sequences of numbers (arrays, lists), as a Parquet list column of numbers
    reads; its first sequence decides (a list of words, e.g. tags, stays a raw value)."""
    if column.dtype != object:
        return False
    first = next((cell for cell in column if isinstance(cell, SEQUENCES)), None)
    return first is not None and np.asarray(first).dtype.kind in "biuf"


def _with_vectors(frame: pd.DataFrame, vectors: set[str], where: str) -> np.ndarray:
    """The records of a table with ``vectors`` columns: each vector's numbers in its column's place, number
    columns as they are, in one float type; a vector column's cells must all be numbers of one length."""
    blocks = []
    for name in frame.columns:
        column = frame[name]
        if name not in vectors:
            if not pd.api.types.is_numeric_dtype(column.dtype):
                raise DataError(
                    f"Column {name!r} of {where} holds text beside vector columns; expected numbers or "
                    "vectors of numbers in every feature column."
                )
            blocks.append(_values(column, exact_float(column.dtype))[:, None])
            continue
        cells = [np.asarray(cell) if isinstance(cell, SEQUENCES) else None for cell in column]
        row = next((i for i, cell in enumerate(cells) if cell is None or cell.dtype.kind not in "biuf"), None)
        if row is not None:
            raise DataError(
                f"Column {name!r} of {where} holds {column.iloc[row]!r} at row {row}; expected a vector of "
                "numbers for every record."
            )
        lengths = sorted({cell.shape for cell in cells})
        if len(lengths) > 1 or len(lengths[0]) != 1:
            raise DataError(
                f"Column {name!r} of {where} holds vectors of shapes {lengths[:3]}; expected one length for "
                "every record."
            )
        blocks.append(np.stack(cells))
    return np.hstack(blocks).astype(exact_float(*(block.dtype for block in blocks)))


def _holds_text(column: pd.Series) -> bool | None:
    """Whether a column's values are text (True) or numbers (False); None when that cannot be told (every
    value missing) or they are neither (vectors of numbers). A categorical column is judged by its
    categories; exact decimals and booleans are numbers."""
    if column.isna().all():  # e.g. a text column left empty in one file, which pandas reads as NaN floats
        return None
    values = column.cat.categories if isinstance(column.dtype, pd.CategoricalDtype) else column
    if pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype):
        return False
    if _holds_vectors(pd.Series(values)):
        return None
    kind = pd.api.types.infer_dtype(values, skipna=True)
    return kind in TEXT_KINDS


def _first_text(column: pd.Series) -> str:
    """Where a text column's first value that is not a number written as text (else its first value) is, and
    that value where an error message may quote it (:func:`~audit_core.core.errors.hidden`)."""
    text = column.astype(object)
    not_number = text.notna().to_numpy() & pd.to_numeric(text, errors="coerce").isna().to_numpy()
    row = int(np.flatnonzero(not_number if not_number.any() else text.notna().to_numpy())[0])
    value = text.iloc[row]
    return f"row {row}, counted from 0" + ("" if hidden(value) else f", reads {value!r}")


#: An audit part's table as read: its config field, its path and its rows.
PartTable = tuple[str, Path, pd.DataFrame]


def require_like_members(members: PartTable, part: PartTable, features: list[str]) -> None:
    """Raise unless each feature column of an audit part's table holds what the members table's does,
    numbers or text: a stray marker (``?``, ``n/a``) in one file makes pandas read its column as text there,
    and a model would meet the two kinds in one audit."""
    for name in features:
        kinds = _holds_text(members[2][name]), _holds_text(part[2][name])
        if None in kinds or kinds[0] == kinds[1]:
            continue
        (text_field, text_path, text), (number_field, number_path, _) = (
            (part, members) if kinds[1] else (members, part)
        )
        raise DataError(
            f"Column {name!r} holds text in {text_field} ('{text_path}', first at {_first_text(text[name])}) "
            f"but numbers in {number_field} ('{number_path}'); expected numbers in every part (with a "
            "decimal point, and a missing value left empty or NaN rather than a marker such as '?'), or text "
            "in every part."
        )


def _part(
    config: TableDataConfig, features: list[str], part: PartTable, members: pd.DataFrame | None = None
) -> Split:
    """One audit part from its table: the ``features`` columns, the labels and the ids; given the
    ``members`` table, its feature columns must hold what the members' do (:func:`require_like_members`)."""
    field, path, frame = part
    require_columns(frame, [config.label, *([config.id] if config.id else [])], path, field)
    named_by = config.features_named_by  # where the model named the features, a missing one is one of them
    require_columns(frame, features, path, field, f", one of {named_by}" if named_by else "")
    if members is not None:
        require_like_members(("data.members", config.members, members), part, features)
    if config.id and frame[config.id].isna().any():
        row = int(np.flatnonzero(frame[config.id].isna().to_numpy())[0])
        raise DataError(
            f"{field}: table '{path}' has no id in column {config.id!r} at row {row}; expected an id for "
            "every record."
        )
    ids = (
        frame[config.id].astype(str).to_numpy()
        if config.id
        else np.array([f"{path.name}:{row}" for row in range(len(frame))])
    )
    where = f"column {config.label!r} of '{path}'"
    labels = integer_labels(frame[config.label].to_numpy(), where, config.classes, config.classes_named_by)
    return Split(record_array(frame[features], f"'{path}'"), labels, ids)


def load_table_data(config: TableDataConfig) -> AuditData:
    """One table per audit part. The features are ``data.features``, else the members table's columns other
    than the label and the id, in its order; every table's are picked by name, so their order in the files
    may differ."""
    members = read_part_table(config.members, "data.members")
    features = config.features or [str(c) for c in members.columns if c not in (config.label, config.id)]
    if not config.features and features[:1] == [UNNAMED_INDEX]:
        raise DataError(
            f"data.members: '{config.members}' begins with a column without a name ({UNNAMED_INDEX!r}), the "
            "row index pandas writes unless to_csv(index=False); expected named feature columns: write the "
            "table without its index, set data.features to the model's columns, or data.id: "
            f"'{UNNAMED_INDEX}' to take it as the record ids."
        )

    def read_part(path: Path, field: str) -> Split:
        if field == "data.members":  # read once
            return _part(config, features, (field, path, members))
        return _part(config, features, (field, path, read_part_table(path, field)), members)

    categories = tuple(
        (name, members[name].dtype)
        for name in features
        if name in members and isinstance(members[name].dtype, pd.CategoricalDtype)  # missing: _part says
    )
    return load_part_files("table", config, read_part, tuple(features), categories)

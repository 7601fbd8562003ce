"""What attacks can read of records: numeric arrays, and the rows of a table with text columns.

A table whose columns are not all numbers loads as an object array ``(n, d)`` of raw fields (strings, numbers,
missing values). QMIA regresses on such rows (numbers as numbers, text as categories) and the label-only query
attacks move their number columns (the augmentation attack also leaves words out of texts), the others kept as
they are; records of other kinds (raw text, objects) are opaque to both.
"""

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from audit_core.core.missing import feature_range

#: pandas' inferred types of a column of numbers (missing values skipped).
NUMBER_TYPES = frozenset({"integer", "floating", "mixed-integer-float", "decimal"})
#: Most distinct values of a text column a regressor reads as categories (HistGradientBoosting's most bins).
MAX_CATEGORIES = 255
#: Fewest words per value, on average, of a column of free text (:func:`text_columns`).
TEXT_WORDS = 3
#: A table's categorical feature columns: (name, pandas categorical dtype) pairs, the members table's.
Categories = tuple[tuple[str, pd.CategoricalDtype], ...]


def exact_float(*dtypes: np.dtype) -> np.dtype:
    """The float dtype, float32 or float64, that holds every value of the numeric ``dtypes`` exactly: the
    records a model is asked about are then the records it was trained on (a float64 column rounded to float32
    moves each record; a k-nearest-neighbours model no longer finds its member at distance zero).

    >>> [str(exact_float(np.dtype(t))) for t in ("uint8", "float32", "int64", "float64")]
    ['float32', 'float32', 'float64', 'float64']
    """
    return np.result_type(np.float32, *(getattr(dtype, "numpy_dtype", dtype) for dtype in dtypes))


def is_table(features: np.ndarray) -> bool:
    """Whether ``features`` are the rows of a table with text columns: an object array ``(n, d)``,
    ``d > 0``."""
    return features.dtype == object and features.ndim == 2 and features.shape[1] > 0


def is_numeric(features: np.ndarray) -> bool:
    """Whether ``features`` are numeric records with at least one field each."""
    return features.dtype.kind in "biuf" and math.prod(features.shape[1:]) > 0


def readable(features: np.ndarray) -> bool:
    """Whether attacks can read records ``features``: numeric ones, or a table's rows."""
    return is_numeric(features) or is_table(features)


def movable(features: np.ndarray) -> bool:
    """Whether the query attacks can move records ``features``: readable ones with a number field or free
    text (:func:`text_columns`)."""
    return has_number_fields(features) or (readable(features) and bool(text_columns(features).any()))


def has_number_fields(features: np.ndarray) -> bool:
    """Whether records ``features`` are readable ones with a number field to move along."""
    return readable(features) and bool(number_columns(features).any())


def text_columns(features: np.ndarray) -> np.ndarray:
    """Which fields of records ``(n, ...)`` hold free text a query can leave words out of: of a table's rows,
    the columns of strings (or missing values) at least half of them distinct, of :data:`TEXT_WORDS` words or
    more on average (a review, a message); not a category of a few words repeated across records ("United
    States", "occupation 3"), which a model knows by its whole value; no field of a numeric array.

    >>> rows = np.array([["the cat sat", "New York", 1], ["a dog ran off", "New York", 2]], dtype=object)
    >>> text_columns(rows).tolist()
    [True, False, False]
    """
    if not is_table(features):
        return np.zeros(features.shape[1:], dtype=bool)
    return np.array([_free_text(features[:, j]) for j in range(features.shape[1])], dtype=bool)


def _free_text(column: np.ndarray) -> bool:
    present = column[~pd.isna(column)]
    if not len(present) or not all(isinstance(v, str) for v in present):
        return False
    words = sum(len(v.split()) for v in present) / len(present)
    return words >= TEXT_WORDS and 2 * len(set(present)) >= len(present)


def number_columns(features: np.ndarray) -> np.ndarray:
    """Which fields of records ``(n, ...)`` hold numbers: every field of a numeric array; of a table's rows,
    the columns whose values are all numbers or missing (not all missing).

    >>> rows = np.array([[1, "a", 2.5, None], [3, "b", np.nan, None]], dtype=object)
    >>> number_columns(rows).tolist()
    [True, False, True, False]
    """
    if not is_table(features):
        return np.ones(features.shape[1:], dtype=bool)
    return np.array(
        [
            pd.api.types.infer_dtype(features[:, j], skipna=True) in NUMBER_TYPES
            for j in range(features.shape[1])
        ]
    )


def numbers(features: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """The fields ``columns`` (a mask from :func:`number_columns`) of records as float64, missing as NaN:
    ``(n, k)`` of a table's rows, the whole records ``(n, ...)`` of a numeric array.

    >>> rows = np.array([[1, "a", 2.5], [3, "b", None]], dtype=object)
    >>> numbers(rows, number_columns(rows)).tolist()
    [[1.0, 2.5], [3.0, nan]]
    """
    if not is_table(features):
        return features.astype(np.float64)
    picked = pd.DataFrame(features[:, columns])  # a value of another kind in a number column reads as missing
    values = picked.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    return np.ascontiguousarray(values)  # row-major as a numeric array's records: the same sums, bit for bit


def with_numbers(records: np.ndarray, columns: np.ndarray, moved: np.ndarray) -> np.ndarray:
    """Queries about ``records`` ``(b, ...)`` whose number fields are ``moved`` ``(b, q, ...)``: ``moved``
    itself for numeric records; for a table's rows, each row repeated ``q`` times with its ``columns`` set
    to the moved numbers, its other fields unchanged."""
    if not is_table(records):
        return moved
    queries = np.repeat(records[:, None], moved.shape[1], axis=1)
    queries[..., columns] = moved
    return queries


def _texts(column: np.ndarray) -> np.ndarray:
    """A column's values as strings, missing ones as None."""
    return np.where(pd.isna(column), None, pd.Series(column, dtype=object).astype(str))


@dataclass(frozen=True)
class RegressionFields:
    """How a regressor reads records: numbers as numbers, each other column of a table's rows with at most
    ``MAX_CATEGORIES`` distinct values as category codes (a value not seen when fitted reads as missing),
    the columns with more (free text, identifiers) left out."""

    columns: np.ndarray  # the number columns (every field of numeric records)
    categories: dict[int, pd.Index]  # text column -> its categories, in code order

    @classmethod
    def fit(cls, features: np.ndarray) -> "RegressionFields":
        """The fields of records ``features`` (numeric, or a table's rows) and their categories."""
        columns = number_columns(features)
        categories = {}
        if is_table(features):
            for j in np.flatnonzero(~columns):
                seen = pd.Index(pd.unique(_texts(features[:, j]))).dropna()
                if 0 < len(seen) <= MAX_CATEGORIES:
                    categories[int(j)] = seen
        return cls(columns, categories)

    @property
    def categorical(self) -> np.ndarray | None:
        """Which encoded columns are category codes, or None if none is."""
        if not self.categories:
            return None
        return np.r_[np.zeros(int(self.columns.sum()), dtype=bool), np.ones(len(self.categories), dtype=bool)]

    def encode(self, features: np.ndarray) -> np.ndarray:
        """Records ``(n, ...)`` as float64 ``(n, k)``: the number fields, then one code per category column
        (missing: NaN)."""
        values = numbers(features, self.columns).reshape(len(features), -1)
        codes = [known.get_indexer(_texts(features[:, j])) for j, known in self.categories.items()]
        if not codes:
            return values
        coded = np.column_stack(codes).astype(np.float64)
        return np.hstack([values, np.where(coded < 0, np.nan, coded)])


def random_records(
    features: np.ndarray, count: int, rng: np.random.Generator, *, whole: bool = False
) -> np.ndarray:
    """``count`` random records like ``features`` (numeric, or a table's rows), each field drawn on its own:
    a number uniformly between the records' smallest and largest (missing where every record misses it;
    with ``whole``, for a model of token ids or category codes, a whole number between them, both included),
    another value of a table's column among the column's values (missing where the column has none)."""
    if not is_table(features):
        low, high = feature_range(features)
        size = (count, *features.shape[1:])
        if whole:
            drawn = rng.integers(low.astype(np.int64), high.astype(np.int64), size=size, endpoint=True)
        else:
            drawn = rng.uniform(low, high, size=size)
        return drawn.astype(features.dtype)
    columns = number_columns(features)
    low, high = feature_range(numbers(features, columns))
    drawn = np.empty((count, features.shape[1]), dtype=object)
    drawn[:, columns] = rng.uniform(low, high, size=(count, int(columns.sum())))
    for j in np.flatnonzero(~columns):
        present = features[:, j][pd.notna(features[:, j])]
        drawn[:, j] = rng.choice(present, count) if len(present) else None
    return drawn

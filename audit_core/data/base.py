"""AuditData: the members, non-members, population and test points of one audit."""

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from audit_core.config.data import MIN_PART_RECORDS
from audit_core.core.errors import DataError, capitalised, first_row
from audit_core.core.records import Categories, exact_float, is_numeric

PARTS = ("members", "non_members", "population", "test")
SIZED_PARTS = ("members", "non_members", "test")  # the parts every reported number is measured on
MAX_NAMED_LABELS = 10  # labels an error message lists at most


@dataclass(frozen=True)
class Split:
    """Records (``features``, shape ``(n, ...)``), integer labels and unique record ids of one audit part.

    Features are numeric arrays (float32, or float64 where the source needs it to stay exact) for models
    that take vectors or images, or object arrays of raw records (e.g. text) for ``callable`` targets; they
    may have zero columns for ``predictions`` audits.
    """

    features: np.ndarray
    labels: np.ndarray
    ids: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.labels)
        if self.features.shape[0] != n or self.ids.shape != (n,):
            raise DataError(
                f"features ({self.features.shape[0]} rows), labels ({n}) and ids ({self.ids.shape[0]}) "
                "must have the same length."
            )

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: np.ndarray) -> "Split":
        """The rows at ``index``, in that order."""
        return Split(self.features[index], self.labels[index], self.ids[index])

    @property
    def numeric(self) -> bool:
        """Whether the records are numeric arrays (a torch model trains on them unless values are missing)."""
        return is_numeric(self.features)

    def missing(self) -> np.ndarray:
        """Whether each record has a missing value: a NaN feature (only float features can have one)."""
        if self.features.dtype.kind != "f":
            return np.zeros(len(self), dtype=bool)
        return np.isnan(self.features.reshape(len(self), -1)).any(axis=1)

    @property
    def width(self) -> int:
        """Numbers (or raw fields) per record."""
        return math.prod(self.features.shape[1:])

    def row_digests(self) -> np.ndarray:
        """SHA-256 of each record's content, to find identical records across parts."""
        if self.features.dtype == object:
            rows = (repr(tuple(np.ravel(row))).encode() for row in self.features)
        else:
            rows = (row.tobytes() for row in np.ascontiguousarray(self.features))
        return np.array([hashlib.sha256(row).digest() for row in rows])


def integer_labels(
    values: np.ndarray,
    where: str,
    classes: Sequence[str | int] | None = None,
    named_by: str = "data.classes",
) -> np.ndarray:
    """``values`` as int64 class indices (with ``classes``, names read as their positions in it), or a
    :class:`DataError` naming ``where`` they came from and what ``named_by`` the classes. Names compare as
    text: ``3`` names class ``"3"``."""
    values = np.asarray(values)
    if classes is not None:
        found, inverse = np.unique(values.astype(str), return_inverse=True)
        positions = {str(name): i for i, name in enumerate(classes)}
        unknown = [str(name) for name in found if name not in positions]
        if unknown:
            row = int(np.flatnonzero(values.astype(str).ravel() == unknown[0])[0])
            raise DataError(
                f"Labels in {where} must be names in {named_by} {[str(c) for c in classes][:5]}; found "
                f"{unknown[0]!r} at row {row}, counted from 0."
            )
        return np.array([positions[name] for name in found], dtype=np.int64)[inverse.ravel()]
    if values.dtype.kind in "iub":
        return values.astype(np.int64)
    if values.dtype.kind == "f" and np.all(np.isfinite(values)) and np.all(values == np.round(values)):
        return values.astype(np.int64)
    flat = values.ravel()
    row = next((i for i, v in enumerate(flat) if not _is_integral(v)), 0)
    example = flat[row]
    named = "" if _is_number(example) else " (list the class names in data.classes, in the model's order)"
    found = "a missing label" if _is_missing(example) else repr(str(example))
    raise DataError(
        f"Labels in {where} must be integer class indices 0..k-1{named}; found {found} at row {row}, counted "
        "from 0."
    )


def _is_missing(value: object) -> bool:
    return np.ndim(value) == 0 and bool(pd.isna(value))


def _is_number(value: object) -> bool:
    return isinstance(value, int | float | np.integer | np.floating)


def _is_integral(value: object) -> bool:
    return isinstance(value, int | np.integer) or (
        isinstance(value, float | np.floating) and math.isfinite(value) and float(value).is_integer()
    )


def _describe(part: str, sources: dict[str, str]) -> str:
    return f"the {part} set" + (f" ({sources[part]})" if part in sources else "")


def _check_not_empty(part: str, split: Split, sources: dict[str, str]) -> None:
    if len(split) == 0:
        raise DataError(f"{capitalised(_describe(part, sources))} is empty; every audit part needs records.")


def auc_null_half_width(n: int) -> float:
    """Half the width of the 95% interval of an AUC on ``n`` members and ``n`` non-members when the model
    leaks nothing (the Mann-Whitney statistic's variance under the null).

    >>> round(auc_null_half_width(10), 2)
    0.26
    """
    return 1.96 * math.sqrt((2 * n + 1) / (12 * n * n))


def _check_audit_size(part: str, split: Split, sources: dict[str, str]) -> None:
    if part in SIZED_PARTS and len(split) < MIN_PART_RECORDS:
        raise DataError(
            f"{capitalised(_describe(part, sources))} has only {len(split)} record{'s' * (len(split) != 1)}; "
            "an audit needs at least "
            f"{MIN_PART_RECORDS} members, non-members and test records, since with fewer the 95% interval "
            f"of an AUC spans more than ±{auc_null_half_width(MIN_PART_RECORDS):.2f} even for a model that "
            "leaks nothing."
        )


def _check_finite(part: str, split: Split, sources: dict[str, str]) -> None:
    """Refuse infinite features; NaN is a missing value, which the user's model may take (README)."""
    if split.features.dtype.kind != "f":
        return
    infinite = np.isinf(split.features.reshape(len(split), -1)).any(axis=1)
    if infinite.any():
        raise DataError(
            f"{capitalised(_describe(part, sources))} has infinite features in {int(infinite.sum())} "
            f"records (e.g. its {first_row(infinite)}); expected finite "
            "numbers, or NaN for a missing value."
        )


def _inferred_classes(parts: dict[str, Split], sources: dict[str, str]) -> int:
    """The largest label + 1, unless that is more classes than the data have records (a typo such as one
    label of 10,000,000 would build a model of that many outputs)."""
    largest = {part: int(split.labels.max()) for part, split in parts.items()}
    part = max(largest, key=largest.__getitem__)
    records = sum(len(split) for split in parts.values())
    if largest[part] + 1 > records:
        raise DataError(
            f"{capitalised(_describe(part, sources))} has label {largest[part]}, which would make "
            f"{largest[part] + 1} classes, more than the {records} records of all parts; expected class "
            "indices 0..k-1 (set data.n_classes if the model has classes the data lack)."
        )
    return largest[part] + 1


@dataclass(frozen=True)
class AuditData:
    """Everything the audit needs from the data owner.

    ``members`` trained the target; ``non_members`` did not and come from the same distribution;
    ``population`` is further data the attacker may use to train shadow/reference models; ``test``
    measures the model's accuracy under each defense. ``sources`` says where each part was read from.
    """

    name: str
    n_classes: int
    members: Split
    non_members: Split
    population: Split
    test: Split
    sources: dict[str, str] = field(default_factory=dict)
    feature_names: tuple[str, ...] | None = None  # the features' column names, where the data have them
    #: The table's categorical feature columns and their pandas dtypes (the members table's), so a model
    #: fitted on categories (e.g. HistGradientBoosting's from_dtype) gets its records as it was fitted.
    categories: Categories = ()

    def __post_init__(self) -> None:
        self.validate()

    @classmethod
    def from_parts(
        cls,
        name: str,
        parts: dict[str, Split],
        *,
        n_classes: int | None,
        sources: dict[str, str],
        feature_names: tuple[str, ...] | None = None,
        categories: Categories = (),
    ) -> "AuditData":
        """Assemble and validate the four parts of one audit's data: besides :meth:`validate`, at least two
        classes and no member record repeated among the non-members; ``n_classes`` defaults to the largest
        label + 1."""
        for part, split in parts.items():
            _check_not_empty(part, split, sources)
            _check_audit_size(part, split, sources)
        floats = [split.features.dtype for split in parts.values() if split.features.dtype.kind == "f"]
        if floats:  # one float dtype for every part (exact for each), so identical records compare equal
            common = exact_float(*floats)
            parts = {
                part: replace(split, features=split.features.astype(common, copy=False))
                if split.features.dtype.kind == "f"
                else split
                for part, split in parts.items()
            }
        k = n_classes or _inferred_classes(parts, sources)
        data = cls(
            name=name,
            n_classes=k,
            sources=sources,
            feature_names=feature_names,
            categories=categories,
            **parts,
        )
        data._check_classes()
        data._check_distinct_records()
        return data

    def splits(self) -> dict[str, Split]:
        """The four parts by name."""
        return {part: getattr(self, part) for part in PARTS}

    def audit_points(self) -> Split:
        """The audited records: members first, then non-members."""
        return Split(
            np.concatenate([self.members.features, self.non_members.features]),
            np.concatenate([self.members.labels, self.non_members.labels]),
            np.concatenate([self.members.ids, self.non_members.ids]),
        )

    def audit_point_row(self, points: np.ndarray) -> str:
        """The first audit point ``points`` marks (a mask over :meth:`audit_points`) as :func:`first_row`
        names it: by its row in the members or the non-members."""
        members = len(self.members)
        if points[:members].any():
            return first_row(points[:members], " of the members")
        return first_row(points[members:], " of the non-members")

    def where(self, part: str) -> str:
        """``the <part> set (<source>)``, for error messages."""
        return _describe(part, self.sources)

    def validate(self) -> None:
        """Raise :class:`DataError` naming the first inconsistency between the parts. These checks hold for
        any records taken from each part of valid data (such as a probe's sample); :meth:`from_parts` adds
        those that only the whole data can pass."""
        shape = self.members.features.shape[1:]
        for part, split in self.splits().items():
            _check_not_empty(part, split, self.sources)
            if split.features.shape[1:] != shape:
                raise DataError(
                    f"Records in {self.where(part)} have shape {split.features.shape[1:]} but members have "
                    f"{shape}; every part needs the same features."
                )
            _check_finite(part, split, self.sources)
            bad = (split.labels < 0) | (split.labels >= self.n_classes)
            if bad.any():
                label = split.labels[bad][0]
                names = ""
                if label < 0:  # not an index: a name, such as -1 of the labels -1 and 1
                    seen = np.unique(np.concatenate([s.labels for s in self.splits().values()]))
                    names = (
                        "; a negative label is a class name: list the names in data.classes, in the order "
                        f"of the model's outputs (e.g. {seen[:MAX_NAMED_LABELS].tolist()})"
                    )
                raise DataError(
                    f"{capitalised(self.where(part))} has label {label}, outside the {self.n_classes} "
                    f"classes [0, {self.n_classes - 1}]; expected integer class indices (set data.n_classes "
                    f"if some classes are absent){names}."
                )
            if len(np.unique(split.ids)) != len(split):
                raise DataError(
                    f"Record ids in {self.where(part)} are not unique; expected one id per record."
                )
        overlap = np.intersect1d(self.members.ids, self.non_members.ids)
        if overlap.size:
            one = self.sources.get("members")
            same = (
                f"; data.members and data.non_members both name {one!r}"
                if one and one == self.sources.get("non_members")
                else ""
            )
            raise DataError(
                f"{overlap.size} record ids are both members and non-members (e.g. the id of "
                f"{first_row(np.isin(self.non_members.ids, overlap), ' of the non-members')}){same}; "
                "expected disjoint sets."
            )

    def _check_classes(self) -> None:
        present = np.unique(np.concatenate([s.labels for s in self.splits().values()]))
        if len(present) < 2:
            raise DataError(
                f"Every record of the {self.name} data has label {present[0]}; an audit needs at least two "
                "classes."
            )

    def _check_distinct_records(self) -> None:
        if self.members.width == 0:
            return
        members, non_members = self.members.row_digests(), self.non_members.row_digests()
        same, in_members, in_non_members = np.intersect1d(members, non_members, return_indices=True)
        if same.size:
            first = np.argmin(in_non_members)
            raise DataError(
                f"{same.size} records of {self.where('non_members')} are identical to member records (e.g. "
                f"its row {in_non_members[first]}, the same as row {in_members[first]} of the members; rows "
                "counted from 0, not ids, which would name a member in the logs); expected disjoint sets: "
                "the model was trained on these very records, so remove them from the non-members."
            )

    def fingerprint(self) -> str:
        """SHA-256 over every array of every part, in a fixed order."""
        digest = hashlib.sha256(self.name.encode())
        for part, split in self.splits().items():
            digest.update(part.encode())
            features = split.row_digests() if split.features.dtype == object else split.features
            for array in (features, split.labels, split.ids.astype(str)):
                digest.update(str(array.dtype).encode() + str(array.shape).encode())
                digest.update(np.ascontiguousarray(array).tobytes())
        return digest.hexdigest()


def load_part_files(
    name: str,
    config: Any,
    read_part: Callable[[Path, str], Split],
    feature_names: tuple[str, ...] | None = None,
    categories: Categories = (),
) -> AuditData:
    """AuditData from one file or folder per part (``config.members`` ... ``config.test``), each read by
    ``read_part(path, field)``, with as many classes as ``config.classes`` names, else ``config.n_classes``
    (or the largest label + 1)."""
    paths: dict[str, Path] = {part: getattr(config, part) for part in PARTS}
    return AuditData.from_parts(
        name,
        {part: read_part(path, f"data.{part}") for part, path in paths.items()},
        n_classes=len(config.classes) if config.classes else config.n_classes,
        sources={part: str(path) for part, path in paths.items()},
        feature_names=feature_names,
        categories=categories,
    )

"""A probe of the audit data: every record listed and checked, only a few records of each part decoded."""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from audit_core.data.base import AuditData, Split


@dataclass(frozen=True)
class DataProbe:
    """What the input check learns of the data without decoding every record.

    ``records`` holds every record's label and id, checked like the full data (features too where reading
    them all is cheap, else none: zero columns); ``sample`` holds a few records of each part with their
    features decoded, spread over the part (:func:`spread_rows`), for querying the target and judging the
    features.
    """

    records: AuditData
    sample: AuditData

    @classmethod
    def of(cls, records: AuditData, sample: dict[str, Split]) -> "DataProbe":
        """The probe of ``records`` whose parts' probed records, decoded, are ``sample``."""
        return cls(
            records,
            AuditData(
                name=records.name,
                n_classes=records.n_classes,
                sources=records.sources,
                feature_names=records.feature_names,
                categories=records.categories,
                **sample,
            ),
        )

    @property
    def sizes(self) -> dict[str, int]:
        """Records per audit part."""
        return {part: len(split) for part, split in self.records.splits().items()}


def probe_loaded(data: AuditData, rows: int) -> DataProbe:
    """The probe of data already loaded whole (cheap to read, so every check has run on every record)."""
    return DataProbe.of(
        data, {part: split.subset(spread_rows(len(split), rows)) for part, split in data.splits().items()}
    )


@dataclass(frozen=True)
class ListedPart:
    """One audit part before decoding: every record's label and id, and ``decode(rows)``: the features of
    the records at ``rows`` (``None``: of all of them)."""

    labels: np.ndarray
    ids: np.ndarray
    decode: Callable[[np.ndarray | None], np.ndarray]


def spread_rows(size: int, rows: int) -> np.ndarray:
    """``rows`` positions evenly spread over ``size`` records (all of them when fewer): image folders are
    listed class by class, and a probe of the first records would see one class.

    >>> spread_rows(100, 4).tolist(), spread_rows(3, 16).tolist()
    ([0, 33, 66, 99], [0, 1, 2])
    """
    return np.unique(np.linspace(0, size - 1, min(rows, size)).round().astype(np.int64))


@dataclass(frozen=True)
class ListedData:
    """Audit data whose records are listed (labels and ids) before their features are decoded (images)."""

    name: str
    parts: dict[str, ListedPart]
    n_classes: int | None
    sources: dict[str, str]

    def load(self) -> AuditData:
        """Every record decoded and checked."""
        return self._assemble({part: listed.decode(None) for part, listed in self.parts.items()})

    def probe(self, rows: int) -> DataProbe:
        """Every record's label and id checked, the features of ``rows`` records of each part, spread over
        it (:func:`spread_rows`), decoded."""
        records = self._assemble(
            {part: np.empty((len(listed.ids), 0), np.float32) for part, listed in self.parts.items()}
        )
        sample = {}
        for part, listed in self.parts.items():
            picked = spread_rows(len(listed.ids), rows)
            sample[part] = Split(listed.decode(picked), listed.labels[picked], listed.ids[picked])
        return DataProbe.of(records, sample)

    def _assemble(self, features: dict[str, np.ndarray]) -> AuditData:
        return AuditData.from_parts(
            self.name,
            {part: Split(features[part], listed.labels, listed.ids) for part, listed in self.parts.items()},
            n_classes=self.n_classes,
            sources=self.sources,
        )

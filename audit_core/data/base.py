"""AuditData: the members, non-members, population and test points of one audit."""

import hashlib
from dataclasses import dataclass

import numpy as np

from audit_core.errors import DataError


@dataclass(frozen=True)
class Split:
    """Feature rows, integer labels and stable record ids of one part of the audit data."""

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


@dataclass(frozen=True)
class AuditData:
    """Everything the audit needs from the data owner.

    ``members`` trained the target; ``non_members`` did not and come from the same distribution;
    ``population`` is further data the attacker may use to train shadow/reference models; ``test``
    measures the model's accuracy under each defense.
    """

    name: str
    n_classes: int
    members: Split
    non_members: Split
    population: Split
    test: Split

    def __post_init__(self) -> None:
        self.validate()

    def splits(self) -> dict[str, Split]:
        """The four parts by name."""
        return {
            "members": self.members,
            "non_members": self.non_members,
            "population": self.population,
            "test": self.test,
        }

    def audit_points(self) -> Split:
        """The audited records: members first, then non-members."""
        return Split(
            np.concatenate([self.members.features, self.non_members.features]),
            np.concatenate([self.members.labels, self.non_members.labels]),
            np.concatenate([self.members.ids, self.non_members.ids]),
        )

    def validate(self) -> None:
        """Raise :class:`DataError` naming the first inconsistency between the parts."""
        for part, split in self.splits().items():
            if len(split) == 0:
                raise DataError(f"The {part} set is empty; every part of the audit data needs rows.")
            if split.labels.min() < 0 or split.labels.max() >= self.n_classes:
                raise DataError(f"Labels in the {part} set must lie in [0, {self.n_classes - 1}].")
        overlap = np.intersect1d(self.members.ids, self.non_members.ids)
        if overlap.size:
            raise DataError(
                f"{overlap.size} record ids are both members and non-members (e.g. {overlap[0]!r})."
            )

    def fingerprint(self) -> str:
        """SHA-256 over every array of every part, in a fixed order."""
        digest = hashlib.sha256(self.name.encode())
        for part, split in self.splits().items():
            digest.update(part.encode())
            for array in (split.features, split.labels, split.ids.astype(str)):
                digest.update(str(array.dtype).encode() + str(array.shape).encode())
                digest.update(np.ascontiguousarray(array).tobytes())
        return digest.hexdigest()

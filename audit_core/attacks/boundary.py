"""The decision-boundary distance attack (Choquette-Choo et al., ICML 2021; Li & Zhang, CCS 2021): members lie
farther from the decision boundary than non-members.

A query-efficient estimate: along ``directions`` random Gaussian directions (each number field scaled by
its spread), the attacker finds by bisection the smallest step ``r`` (in units of feature spread, at most
``max_radius``) at which the released label stops being the true label. Each direction costs one query at
``max_radius`` and ``max_queries // directions - 1`` bisection queries, so no record costs more than
``max_queries``. The score is the mean step over directions; a record the model already mislabels scores 0.
"""

import numpy as np

from audit_core.attacks.base import AttackInput, register_attack, require
from audit_core.attacks.query import CALIBRATION_RECORDS, QueryAttack, released_labels


@register_attack
class BoundaryAttack(QueryAttack):
    """Score: the mean distance to the decision boundary along random directions, found by bisection."""

    name = "boundary"
    requires = frozenset({"shadow_queries", "number_fields"})

    def __init__(
        self,
        *,
        max_queries: int = 64,
        directions: int = 16,
        max_radius: float = 2.0,
        calibration_records: int = CALIBRATION_RECORDS,
        seed: int = 0,
    ) -> None:
        self.max_queries = max_queries
        self.directions = directions
        self.max_radius = max_radius
        self.calibration_records = calibration_records
        self.seed = seed

    def queries_per_record(self, record_shape: tuple[int, ...]) -> int:
        return self.directions * (self.max_queries // self.directions)

    def check(self) -> None:
        super().check()
        require(self.directions >= 1, "directions", self.directions, "at least 1")
        expected = f"at least one query per direction (directions = {self.directions})"
        require(self.max_queries >= self.directions, "max_queries", self.max_queries, expected)
        require(self.max_radius > 0, "max_radius", self.max_radius, "a positive number")

    def block_statistic(
        self, outputs: AttackInput, rows: np.ndarray, scale: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        records, labels = outputs.features[rows], outputs.labels[rows]
        features = self.number_fields(records)
        steps = scale * rng.standard_normal((len(rows), self.directions, *features.shape[1:]))

        def keeps_label(radius: np.ndarray, fixed: bool) -> np.ndarray:
            """Whether the label survives a move of ``radius`` ``(b, directions)`` along each direction
            (``fixed``: the radii depend on no answer yet)."""
            moved = features[:, None] + radius.reshape(*radius.shape, *[1] * (features.ndim - 1)) * steps
            return released_labels(outputs, rows, self.queries(records, moved), fixed) == labels[:, None]

        low = np.zeros((len(rows), self.directions))
        high = np.full_like(low, self.max_radius)
        flips = ~keeps_label(high, fixed=True)
        for step in range(self.max_queries // self.directions - 1):
            middle = (low + high) / 2
            kept = keeps_label(middle, fixed=step == 0)  # the first middle is max_radius / 2 everywhere
            low, high = np.where(kept, middle, low), np.where(kept, high, middle)
        distance = np.where(flips, (low + high) / 2, self.max_radius).mean(axis=1)
        return np.where(outputs.probs[rows].argmax(axis=1) == labels, distance, 0.0)

"""Label-only query attacks (Choquette-Choo et al., ICML 2021; Li & Zhang, CCS 2021): the attacker queries
the model around each record, through the defense under audit, and reads only the released labels.

A query attack turns each record into a statistic from the answers to its own queries (larger: more likely a
member) and learns, on the shadow model queried the same way (undefended for the naive attacker, through the
defense for the adaptive one), the side members lie on (:class:`~audit_core.attacks.base.SideLearningAttack`)
and the threshold that maximises balanced accuracy there. Queries are drawn from the attack's own ``seed``,
records are queried in blocks of ``BLOCK``, and perturbations are scaled per feature by the spread of the
shadow's (population) records, which the attacker knows. A missing value (NaN) stays missing in every query:
the attacker perturbs what the record has. Of a table's rows with text columns only the number columns move;
the other fields of every query are the record's own.

The threshold is learned on at most ``calibration_records`` shadow members and as many non-members (a random
subset, from the attack's seed, where the shadow has more): each costs ``queries_per_record`` queries, and a
large population would otherwise cost more queries than the audited records. The scores, and so the AUC and
the TPR at a low FPR, do not depend on the threshold; the balanced accuracy reached with a thousand of each
is a few thousandths below that of the threshold learned on 8,000 of each (simulated in
``tests/audit_core/test_query_attacks.py``), within the sampling error of an audit of that size.
"""

from abc import abstractmethod
from typing import Self

import numpy as np

from audit_core.attacks.base import AttackInput, CalibrationData, SideLearningAttack, require
from audit_core.core.missing import feature_spread
from audit_core.core.records import number_columns, numbers, with_numbers
from audit_core.core.seeding import derive_rng
from audit_core.stats.metrics import best_balanced_accuracy_threshold

BLOCK = 256  # records whose queries are built and answered together, to bound memory on images
#: Shadow members (and as many non-members) a query attack calibrates on by default.
CALIBRATION_RECORDS = 1000


def released_labels(
    outputs: AttackInput, rows: np.ndarray, inputs: np.ndarray, fixed: bool = False
) -> np.ndarray:
    """The labels ``(b, q)`` released for ``inputs`` ``(b, q, ...)`` about the records at ``rows``;
    ``fixed``: queries that depend on no answer (:class:`~audit_core.attacks.base.Ask`)."""
    return outputs.ask(rows, inputs.astype(outputs.features.dtype, copy=False), fixed=fixed)


class QueryAttack(SideLearningAttack):
    """Base of the label-only query attacks: a per-record statistic from queries, a shadow-calibrated side
    and threshold."""

    requires = frozenset({"shadow_queries"})
    reads_labels_only = True
    seed: int
    calibration_records: int

    @abstractmethod
    def queries_per_record(self, record_shape: tuple[int, ...]) -> int:
        """How many queries the attack sends about each record of shape ``record_shape``."""

    @abstractmethod
    def block_statistic(
        self, outputs: AttackInput, rows: np.ndarray, scale: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """The statistic of the records at ``rows`` from their queries; ``scale``: each number field's
        spread."""

    def number_fields(self, records: np.ndarray) -> np.ndarray:
        """The fields of ``records`` the attack moves, as float64 (a table's number columns)."""
        return numbers(records, self.columns_)

    def queries(self, records: np.ndarray, moved: np.ndarray) -> np.ndarray:
        """Queries ``(b, q, ...)`` about ``records``: their number fields ``moved``, the others kept."""
        return with_numbers(records, self.columns_, moved)

    def statistic(self, outputs: AttackInput, rows: np.ndarray | None = None) -> np.ndarray:
        """The statistic of the records of ``outputs`` at ``rows`` (default: every record), queried in blocks
        with the attack's own seed."""
        if outputs.ask is None:
            raise ValueError(f"{self.name} queries the model, but the outputs come without query access.")
        rows = np.arange(len(outputs)) if rows is None else rows
        rng = np.random.default_rng(self.seed)
        blocks = [rows[i : i + BLOCK] for i in range(0, len(rows), BLOCK)]
        return np.concatenate(
            [self.block_statistic(outputs, block, self.scale_, rng) for block in blocks] or [np.empty(0)]
        ).astype(np.float64)

    def calibration_rows(self, is_member: np.ndarray) -> np.ndarray:
        """The shadow records the threshold is learned on: on each side (members, non-members) every one, or
        ``calibration_records`` of them at random where there are more (in their order)."""
        rng = derive_rng(self.seed, "calibration-records")
        sides = [np.flatnonzero(is_member == side) for side in (True, False)]
        kept = [
            s if len(s) <= self.calibration_records else rng.choice(s, self.calibration_records, False)
            for s in sides
        ]
        return np.sort(np.concatenate(kept))

    def check(self) -> None:
        require(self.calibration_records >= 1, "calibration_records", self.calibration_records, "at least 1")

    def fit(self, calibration: CalibrationData) -> Self:
        self.check()
        shadow = calibration.shadow_queries
        self.columns_ = number_columns(shadow.outputs.features)
        self.scale_ = feature_spread(numbers(shadow.outputs.features, self.columns_))
        rows = self.calibration_rows(shadow.is_member)
        statistic = self.learn_side(self.statistic(shadow.outputs, rows), shadow.is_member[rows])
        self.threshold_ = best_balanced_accuracy_threshold(statistic, shadow.is_member[rows])
        return self

    def score(self, outputs: AttackInput) -> np.ndarray:
        return self.side_ * self.statistic(outputs)

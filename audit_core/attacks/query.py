"""Label-only query attacks (Choquette-Choo et al., ICML 2021; Li & Zhang, CCS 2021): the attacker queries
the model around each record, through the defense under audit, and reads only the released labels.

A query attack turns each record into a statistic from the answers to its own queries (larger: more likely a
member) and learns, on the shadow model queried the same way (undefended for the naive attacker, through the
defense for the adaptive one), the threshold that maximises balanced accuracy there. Queries are drawn from
the attack's own ``seed``, records are queried in blocks of ``BLOCK``, and perturbations are scaled per
feature by the spread of the shadow's (population) records, which the attacker knows. A missing value (NaN)
stays missing in every query: the attacker perturbs what the record has.
"""

from abc import abstractmethod
from typing import Self

import numpy as np

from audit_core.attacks.base import Attack, AttackInput, CalibrationData
from audit_core.core.missing import feature_spread
from audit_core.stats.metrics import best_balanced_accuracy_threshold

BLOCK = 256  # records whose queries are built and answered together, to bound memory on images


def released_labels(
    outputs: AttackInput, rows: np.ndarray, inputs: np.ndarray, fixed: bool = False
) -> np.ndarray:
    """The labels ``(b, q)`` released for ``inputs`` ``(b, q, ...)`` about the records at ``rows``;
    ``fixed``: queries that depend on no answer (:class:`~audit_core.attacks.base.Ask`)."""
    return outputs.ask(rows, inputs.astype(outputs.features.dtype, copy=False), fixed=fixed)


class QueryAttack(Attack):
    """Base of the label-only query attacks: a per-record statistic from queries, a shadow-calibrated
    threshold."""

    requires = frozenset({"shadow_queries"})
    reads_labels_only = True
    seed: int

    @abstractmethod
    def queries_per_record(self, record_shape: tuple[int, ...]) -> int:
        """How many queries the attack sends about each record of shape ``record_shape``."""

    @abstractmethod
    def block_statistic(
        self, outputs: AttackInput, rows: np.ndarray, scale: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """The statistic of the records at ``rows`` from their queries; ``scale``: per-feature spread."""

    def statistic(self, outputs: AttackInput) -> np.ndarray:
        """The statistic of every record of ``outputs``, queried in blocks with the attack's own seed."""
        if outputs.ask is None:
            raise ValueError(f"{self.name} queries the model, but the outputs come without query access.")
        rng = np.random.default_rng(self.seed)
        blocks = [np.arange(i, min(i + BLOCK, len(outputs))) for i in range(0, len(outputs), BLOCK)]
        return np.concatenate(
            [self.block_statistic(outputs, rows, self.scale_, rng) for rows in blocks] or [np.empty(0)]
        ).astype(np.float64)

    def fit(self, calibration: CalibrationData) -> Self:
        shadow = calibration.shadow_queries
        self.scale_ = feature_spread(shadow.outputs.features)
        self.threshold_ = best_balanced_accuracy_threshold(self.statistic(shadow.outputs), shadow.is_member)
        return self

    def score(self, outputs: AttackInput) -> np.ndarray:
        return self.statistic(outputs)

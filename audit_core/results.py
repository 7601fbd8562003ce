"""AuditResult: every number an audit produced, as tidy tables."""

import hashlib
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from audit_core.evaluation import KNOWLEDGE, ConditionEvaluation
from audit_core.metrics import Estimate
from audit_core.midput import Midput, midput

METRIC_COLUMNS = ["condition", "defense", "knowledge", "attack", "metric", "value", "ci_low", "ci_high"]
SCORE_COLUMNS = ["record", "is_member", "label", "condition", "knowledge", "attack", "score"]


def hash_record_ids(ids: np.ndarray, salt: str) -> np.ndarray:
    """A salted SHA-256 (first 16 hex digits) of each record id, so no raw id or record is ever written."""
    return np.array([hashlib.sha256(f"{salt}\x00{i}".encode()).hexdigest()[:16] for i in ids])


@dataclass(frozen=True)
class AuditResult:
    """The outcome of one audit: the undefended baseline first, then each defended condition."""

    run_name: str
    evaluations: list[ConditionEvaluation]
    record_ids: np.ndarray  # audit points: members first, then non-members
    labels: np.ndarray
    is_member: np.ndarray
    provenance: dict[str, Any]

    @property
    def baseline(self) -> ConditionEvaluation:
        """The undefended condition."""
        return self.evaluations[0]

    @property
    def defended(self) -> list[ConditionEvaluation]:
        """The conditions with a defense applied."""
        return self.evaluations[1:]

    @property
    def attacks(self) -> list[str]:
        """Attack names in the order they ran."""
        return list(dict.fromkeys(o.attack for o in self.baseline.outcomes))

    def asr(self, evaluation: ConditionEvaluation, knowledge: str) -> dict[str, float]:
        """Attack success rate (balanced accuracy at the calibrated threshold) per attack."""
        return {a: evaluation.outcome(a, knowledge).balanced_accuracy.value for a in self.attacks}

    def midput(self, evaluation: ConditionEvaluation, knowledge: str) -> Midput:
        """MIDPUT of ``evaluation`` against the undefended baseline, for one attacker knowledge."""
        return midput(
            self.baseline.test_accuracy.value,
            evaluation.test_accuracy.value,
            self.asr(self.baseline, knowledge),
            self.asr(evaluation, knowledge),
        )

    def metrics_table(self) -> pd.DataFrame:
        """One row per (condition, knowledge, attack, metric) with value and interval (NaN when none)."""
        rows: list[tuple] = []

        def add(ev: ConditionEvaluation, knowledge, attack, metric: str, value: Estimate | float) -> None:
            est = value if isinstance(value, Estimate) else Estimate(float(value), math.nan, math.nan)
            rows.append(
                (ev.condition, ev.defense, knowledge, attack, metric, est.value, est.ci_low, est.ci_high)
            )

        for ev in self.evaluations:
            add(ev, None, None, "test_accuracy", ev.test_accuracy)
            for o in ev.outcomes:
                add(ev, o.knowledge, o.attack, "auc", o.auc)
                add(ev, o.knowledge, o.attack, "balanced_accuracy", o.balanced_accuracy)
                add(ev, o.knowledge, o.attack, "advantage", o.advantage)
                add(ev, o.knowledge, o.attack, "threshold", o.threshold)
        for ev in self.defended:
            for knowledge in KNOWLEDGE:
                score = self.midput(ev, knowledge)
                add(ev, knowledge, None, "midput", score.value)
                add(ev, knowledge, None, "accuracy_drop", score.accuracy_drop)
                for attack, put in score.put.items():
                    add(ev, knowledge, attack, "put", put)
        return pd.DataFrame(rows, columns=METRIC_COLUMNS)

    def scores_table(self, salt: str) -> pd.DataFrame:
        """One row per (audit point, condition, knowledge, attack); records appear only as salted hashes."""
        hashed = hash_record_ids(self.record_ids, salt)
        frames = [
            pd.DataFrame(
                {
                    "record": hashed,
                    "is_member": self.is_member,
                    "label": self.labels,
                    "condition": ev.condition,
                    "knowledge": o.knowledge,
                    "attack": o.attack,
                    "score": o.scores,
                }
            )
            for ev in self.evaluations
            for o in ev.outcomes
        ]
        return pd.concat(frames, ignore_index=True)[SCORE_COLUMNS]

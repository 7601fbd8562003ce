"""AuditResult: every number an audit produced, as tidy tables."""

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_curve

from audit_core.audit.analysis import METRIC_COLUMNS, ConditionEvaluation, drop_rows, metric_row, outcome_rows
from audit_core.defenses.names import condition_name
from audit_core.stats.midput import Midput, midput
from audit_core.stats.names import Metric
from audit_core.stats.paired import PairedDrop

SCORE_COLUMNS = ["record", "is_member", "label", "condition", "knowledge", "attack", "score"]
AVERAGING_COLUMNS = ["condition", "attack", "queries", Metric.AUC]
ROC_COLUMNS = ["condition", "knowledge", "attack", "fpr", "tpr", "threshold"]
REGAINED_FRACTION = 0.9  # the averaging attacker "regains" the undefended advantage at 90% of it


@dataclass(frozen=True)
class AuditResult:
    """The outcome of one audit: the undefended baseline first, then each defended condition."""

    run_name: str
    evaluations: list[ConditionEvaluation]
    records: np.ndarray  # the audit points' keyed record hashes (core.record_ids): members, then non-members
    labels: np.ndarray
    is_member: np.ndarray
    provenance: dict[str, Any]
    #: The condition the summary centres on: the tuned DynaNoise, else the first configured defense.
    chosen: str | None = None
    #: The report's DynaNoise explorer: set-wide numbers over a parameter grid, nothing per record.
    explorer: dict[str, Any] | None = None
    #: The tuned DynaNoise's condition, when the run tuned.
    tuned: str | None = None
    #: Per audit point, its exposure by the reference models' own estimate (None without references).
    vulnerability: np.ndarray | None = None

    def name(self, condition: str) -> str:
        """The name people read for ``condition`` (:func:`~audit_core.defenses.names.condition_name`)."""
        return condition_name(condition, self.tuned)

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
        return self.baseline.attacks

    @property
    def knowledge(self) -> list[str]:
        """Attacker knowledge modes in the order they ran."""
        return list(dict.fromkeys(o.knowledge for o in self.baseline.outcomes))

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

    def accuracy_drop(self, evaluation: ConditionEvaluation) -> PairedDrop:
        """Undefended minus ``evaluation``'s test accuracy, paired on the same test points."""
        return PairedDrop.of(self.baseline.test_correct, evaluation.test_correct)

    def queries_to_regain(self, evaluation: ConditionEvaluation, attack: str) -> int | None:
        """The smallest query budget at which the averaging attacker's AUC advantage (AUC - 0.5) reaches 90%
        of the undefended one; ``None`` if not reached within the budget or if there was nothing to regain."""
        undefended = self.baseline.outcome(attack, self.knowledge[0]).auc.value - 0.5
        if undefended <= 0:
            return None
        for point in sorted((p for p in evaluation.averaging if p.attack == attack), key=lambda p: p.queries):
            if point.auc - 0.5 >= REGAINED_FRACTION * undefended:
                return point.queries
        return None

    def metrics_table(self) -> pd.DataFrame:
        """One row per (condition, knowledge, attack, slice, metric) with value, interval and note."""
        rows: list[tuple] = []

        def add(ev, knowledge, attack, metric, value, note=None) -> None:
            rows.append((ev.condition, ev.defense, knowledge, attack, *metric_row(metric, value, note)))

        for ev in self.evaluations:
            add(ev, None, None, Metric.TEST_ACCURACY, ev.test_accuracy)
            for attack, reason in ev.skipped.items():
                add(ev, None, attack, Metric.SKIPPED, math.nan, note=reason)
            for o in ev.outcomes:
                rows += [(ev.condition, ev.defense, o.knowledge, o.attack, *r) for r in outcome_rows(o)]
            if ev is not self.baseline and "averaging" in self.knowledge:
                for attack in ev.attacks:
                    budget = self.queries_to_regain(ev, attack)
                    add(
                        ev,
                        "averaging",
                        attack,
                        Metric.QUERIES_TO_REGAIN,
                        math.nan if budget is None else budget,
                        note="not reached" if budget is None else None,
                    )
        fidelity = self.provenance.get("reference_fidelity")
        if fidelity is not None:
            spread = f"mean ± {{:.4f}} over {fidelity['n_models']} reference models"
            for metric, value, std in (
                (Metric.TARGET_TRAIN_ACCURACY, fidelity["target_train"], None),
                (Metric.TARGET_HELD_OUT_ACCURACY, fidelity["target_held_out"], None),
                (Metric.TARGET_GAP, fidelity["target_train"] - fidelity["target_held_out"], None),
                (Metric.REFERENCE_TRAIN_ACCURACY, fidelity["train_mean"], fidelity["train_std"]),
                (Metric.REFERENCE_HELD_OUT_ACCURACY, fidelity["held_out_mean"], fidelity["held_out_std"]),
                (Metric.REFERENCE_GAP, fidelity["gap_mean"], fidelity["gap_std"]),
            ):
                add(self.baseline, None, None, metric, value, None if std is None else spread.format(std))
        for ev in self.defended:
            rows += [(ev.condition, ev.defense, None, None, *r) for r in drop_rows(self.accuracy_drop(ev))]
            for knowledge in self.knowledge:
                score = self.midput(ev, knowledge)
                add(
                    ev,
                    knowledge,
                    None,
                    Metric.MIDPUT,
                    score.value,
                    note=f"mean over {len(score.put)} attacks",
                )
                for attack, put in score.put.items():
                    add(ev, knowledge, attack, Metric.PUT, put)
        return pd.DataFrame(rows, columns=METRIC_COLUMNS)

    def averaging_table(self) -> pd.DataFrame:
        """The averaging attacker's AUC per condition, attack and query budget."""
        rows = [(ev.condition, p.attack, p.queries, p.auc) for ev in self.evaluations for p in ev.averaging]
        return pd.DataFrame(rows, columns=AVERAGING_COLUMNS)

    def roc_table(self) -> pd.DataFrame:
        """Every ROC curve: one row per (condition, knowledge, attack, operating point)."""
        frames = []
        for ev in self.evaluations:
            for o in ev.outcomes:
                fpr, tpr, thresholds = roc_curve(self.is_member, o.scores)
                frames.append(
                    pd.DataFrame(
                        {
                            "condition": ev.condition,
                            "knowledge": o.knowledge,
                            "attack": o.attack,
                            "fpr": fpr,
                            "tpr": tpr,
                            "threshold": thresholds,
                        }
                    )
                )
        return pd.concat(frames, ignore_index=True)[ROC_COLUMNS]

    def scores_table(self) -> pd.DataFrame:
        """One row per (audit point, condition, knowledge, attack); records appear only as keyed hashes."""
        frames = [
            pd.DataFrame(
                {
                    "record": self.records,
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

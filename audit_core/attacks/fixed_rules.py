"""Attacks with a fixed published decision rule and no calibration.

``paper_confidence`` and ``paper_loss`` reproduce the DynaNoise artifact's rules (max confidence > 0.9,
cross-entropy < 0.5); ``label_only`` is the gap attack (member if correctly classified), the floor that no
output-perturbation defense which keeps the predicted label can push below.
"""

from abc import abstractmethod
from typing import Self

import numpy as np

from audit_core.attacks.base import Attack, AttackInput, CalibrationData, register_attack
from audit_core.core.probability import safe_log, true_class_probability


def _strictly_above(threshold: float) -> float:
    """The threshold ``t'`` with ``score >= t'`` exactly when ``score > threshold``."""
    return float(np.nextafter(threshold, np.inf))


class FixedRuleAttack(Attack):
    """An attack whose decision threshold is a constant; ``fit`` learns nothing but sets ``threshold_``."""

    @abstractmethod
    def rule_threshold(self) -> float:
        """The published rule's decision threshold on the score."""

    def fit(self, calibration: CalibrationData) -> Self:
        self.threshold_ = self.rule_threshold()
        return self


@register_attack
class PaperConfidenceAttack(FixedRuleAttack):
    """Member if the largest released probability exceeds ``threshold`` (0.9 in the paper)."""

    name = "paper_confidence"

    def __init__(self, *, threshold: float = 0.9) -> None:
        self.threshold = threshold

    def rule_threshold(self) -> float:
        return _strictly_above(self.threshold)

    def score(self, outputs: AttackInput) -> np.ndarray:
        return outputs.probs.max(axis=1)


@register_attack
class PaperLossAttack(FixedRuleAttack):
    """Member if the cross-entropy loss is below ``max_loss`` (0.5 in the paper); score is ``-loss``."""

    name = "paper_loss"

    def __init__(self, *, max_loss: float = 0.5) -> None:
        self.max_loss = max_loss

    def rule_threshold(self) -> float:
        return _strictly_above(-self.max_loss)

    def score(self, outputs: AttackInput) -> np.ndarray:
        return safe_log(true_class_probability(outputs.probs, outputs.labels))


@register_attack
class LabelOnlyAttack(FixedRuleAttack):
    """Member if the released output's top label is the true label (Yeom et al.'s gap attack)."""

    name = "label_only"
    reads_labels_only = True

    def rule_threshold(self) -> float:
        return 0.5

    def score(self, outputs: AttackInput) -> np.ndarray:
        return (outputs.probs.argmax(axis=1) == outputs.labels).astype(np.float64)

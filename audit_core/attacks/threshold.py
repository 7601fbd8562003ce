"""Threshold attacks on one statistic of the released output (Yeom et al. 2018; Song & Mittal 2021).

Each attack turns an output into a statistic where larger means "more likely a member", and learns one
global threshold on calibration data that maximises balanced accuracy there.
"""

from abc import abstractmethod
from typing import Self

import numpy as np

from audit_core.attacks.base import Attack, AttackInput, CalibrationData, register_attack
from audit_core.metrics import best_balanced_accuracy_threshold
from audit_core.probability import entropy, modified_entropy, safe_log, true_class_probability


class ThresholdAttack(Attack):
    """Member if ``statistic(output) >= threshold_``, with the threshold learned on calibration data."""

    @abstractmethod
    def statistic(self, outputs: AttackInput) -> np.ndarray:
        """The per-point statistic; larger means more likely a member."""

    def fit(self, calibration: CalibrationData) -> Self:
        values = self.statistic(calibration.outputs)
        self.threshold_ = best_balanced_accuracy_threshold(values, calibration.is_member)
        return self

    def score(self, outputs: AttackInput) -> np.ndarray:
        return self.statistic(outputs)


@register_attack
class ConfidenceAttack(ThresholdAttack):
    """The true-class confidence ``p_y``."""

    name = "confidence"

    def statistic(self, outputs: AttackInput) -> np.ndarray:
        return true_class_probability(outputs.probs, outputs.labels)


@register_attack
class LossAttack(ThresholdAttack):
    """The negated cross-entropy loss ``log p_y``."""

    name = "loss"

    def statistic(self, outputs: AttackInput) -> np.ndarray:
        return safe_log(true_class_probability(outputs.probs, outputs.labels))


@register_attack
class EntropyAttack(ThresholdAttack):
    """The negated prediction entropy ``-H(p)``; needs no label."""

    name = "entropy"

    def statistic(self, outputs: AttackInput) -> np.ndarray:
        return -entropy(outputs.probs)


@register_attack
class ModifiedEntropyAttack(ThresholdAttack):
    """The negated modified entropy ``-Mentr(p, y)`` of Song & Mittal."""

    name = "modified_entropy"

    def statistic(self, outputs: AttackInput) -> np.ndarray:
        return -modified_entropy(outputs.probs, outputs.labels)

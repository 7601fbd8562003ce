"""Threshold attacks on one statistic of the released output (Yeom et al. 2018; Song & Mittal 2021).

Each attack turns an output into a statistic where larger means "more likely a member" and learns, on the
shadow model's outputs, the threshold that maximises balanced accuracy there: one per class (Song & Mittal's
class-dependent thresholds) or one for all. The score is the statistic minus the threshold of the point's
class, so ``score >= 0`` is the decision and scores are comparable across classes.

The side members lie on is learned there too (:class:`~audit_core.attacks.base.SideLearningAttack`).
"""

from abc import abstractmethod
from typing import Self

import numpy as np

from audit_core.attacks.base import AttackInput, CalibrationData, SideLearningAttack, register_attack
from audit_core.core.probability import entropy, modified_entropy, safe_log, true_class_probability
from audit_core.stats.metrics import best_balanced_accuracy_threshold

MIN_PER_CLASS = 2  # members and non-members a class needs for its own threshold; else the global one


class ThresholdAttack(SideLearningAttack):
    """Member if ``side * statistic(output) >= threshold of its class``, side and thresholds learned on shadow
    outputs."""

    requires = frozenset({"shadow"})

    def __init__(self, *, per_class: bool = True) -> None:
        self.per_class = per_class

    @abstractmethod
    def statistic(self, outputs: AttackInput) -> np.ndarray:
        """The per-point statistic; larger means more likely a member."""

    def class_of(self, outputs: AttackInput) -> np.ndarray:
        """The class whose threshold applies to each point: its true label."""
        return outputs.labels

    def fit(self, calibration: CalibrationData) -> Self:
        shadow = calibration.shadow
        values = self.learn_side(self.statistic(shadow.outputs), shadow.is_member)
        overall = best_balanced_accuracy_threshold(values, shadow.is_member)
        self.class_thresholds_ = np.full(shadow.outputs.probs.shape[1], overall)
        if self.per_class:
            classes = self.class_of(shadow.outputs)
            for c in np.unique(classes):
                members = shadow.is_member[classes == c]
                if members.sum() >= MIN_PER_CLASS and (~members).sum() >= MIN_PER_CLASS:
                    self.class_thresholds_[c] = best_balanced_accuracy_threshold(
                        values[classes == c], members
                    )
        self.threshold_ = 0.0  # scores are relative to the point's class threshold
        return self

    def score(self, outputs: AttackInput) -> np.ndarray:
        return self.side_ * self.statistic(outputs) - self.class_thresholds_[self.class_of(outputs)]


@register_attack
class ConfidenceAttack(ThresholdAttack):
    """The true-class confidence ``p_y`` (Song & Mittal), thresholds per true class."""

    name = "confidence"

    def statistic(self, outputs: AttackInput) -> np.ndarray:
        return true_class_probability(outputs.probs, outputs.labels)


@register_attack
class LossAttack(ThresholdAttack):
    """The negated cross-entropy loss ``log p_y`` with one global threshold (Yeom et al.)."""

    name = "loss"

    def __init__(self, *, per_class: bool = False) -> None:
        super().__init__(per_class=per_class)

    def statistic(self, outputs: AttackInput) -> np.ndarray:
        return safe_log(true_class_probability(outputs.probs, outputs.labels))


@register_attack
class EntropyAttack(ThresholdAttack):
    """The negated prediction entropy ``-H(p)``, thresholds per *predicted* class (needs no label)."""

    name = "entropy"

    def statistic(self, outputs: AttackInput) -> np.ndarray:
        return -entropy(outputs.probs)

    def class_of(self, outputs: AttackInput) -> np.ndarray:
        return outputs.probs.argmax(axis=1)


@register_attack
class ModifiedEntropyAttack(ThresholdAttack):
    """The negated modified entropy ``-Mentr(p, y)`` of Song & Mittal, thresholds per true class."""

    name = "modified_entropy"

    def statistic(self, outputs: AttackInput) -> np.ndarray:
        return -modified_entropy(outputs.probs, outputs.labels)

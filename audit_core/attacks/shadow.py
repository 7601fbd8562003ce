"""The shadow-model attack (Shokri et al. 2017): a classifier learned on shadow outputs of known membership.

Features follow the DynaNoise artifact: max confidence, entropy, modified entropy, true-class probability
and cross-entropy loss; the classifier is a standardised logistic regression.
"""

from typing import Self

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from audit_core.attacks.base import Attack, AttackInput, CalibrationData, register_attack, require
from audit_core.core.probability import entropy, modified_entropy, safe_log, true_class_probability


def output_features(outputs: AttackInput) -> np.ndarray:
    """The five per-point features ``[max p, H, Mentr, p_y, -log p_y]``."""
    p_y = true_class_probability(outputs.probs, outputs.labels)
    return np.column_stack(
        [
            outputs.probs.max(axis=1),
            entropy(outputs.probs),
            modified_entropy(outputs.probs, outputs.labels),
            p_y,
            -safe_log(p_y),
        ]
    )


@register_attack
class ShadowModelAttack(Attack):
    """Logistic regression on output features, trained on the shadow model's member/non-member outputs."""

    name = "shadow"
    requires = frozenset({"shadow"})

    def __init__(self, *, regularisation: float = 1.0) -> None:
        self.regularisation = regularisation

    def check(self) -> None:
        require(self.regularisation > 0, "regularisation", self.regularisation, "a positive number")

    def fit(self, calibration: CalibrationData) -> Self:
        shadow = calibration.shadow
        self.classifier_ = make_pipeline(
            StandardScaler(), LogisticRegression(C=self.regularisation, max_iter=1000)
        )
        self.classifier_.fit(output_features(shadow.outputs), shadow.is_member)
        self.threshold_ = 0.0  # the score is the log-odds of membership; 0 is probability one half
        return self

    def score(self, outputs: AttackInput) -> np.ndarray:
        return self.classifier_.decision_function(output_features(outputs))

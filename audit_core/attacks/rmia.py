"""RMIA, the robust membership inference attack (Zarifzadeh, Liu & Shokri 2024), offline version.

``Pr(x)`` is estimated from OUT reference models as ``((1 + a) mean_OUT Pr(x | theta') + (1 - a)) / 2``;
the score of ``x`` is the fraction of population points ``z`` whose likelihood ratio it beats:
``Pr_z[(Pr(x|theta) / Pr(x)) / (Pr(z|theta) / Pr(z)) >= gamma]``. With a fixed population this fraction is
a monotone step function of ``Pr(x|theta) / Pr(x)``; its ties are broken by that ratio, so a small population
does not collapse the low-FPR end of the ROC curve.
"""

from typing import Any, ClassVar

import numpy as np

from audit_core.attacks.base import CalibrationData, register_attack, require
from audit_core.attacks.reference import (
    CALIBRATION_MODELS,
    CALIBRATION_POINTS,
    ReferenceAttack,
    masked_mean_std,
)
from audit_core.core.probability import LOG_FLOOR, true_class_probability

A_GRID = tuple(np.round(np.linspace(0.0, 1.0, 11), 2))


@register_attack
class RMIA(ReferenceAttack):
    """Offline RMIA; ``a=None`` tunes the mixing parameter on a paired reference model."""

    name = "rmia"
    requires = frozenset({"references", "target_population"})
    choices: ClassVar[dict[str, tuple[Any, ...]]] = {"a": A_GRID}

    def __init__(
        self,
        *,
        a: float | None = None,
        gamma: float = 1.0,
        calibration_models: int = CALIBRATION_MODELS,
        calibration_points: int = CALIBRATION_POINTS,
    ) -> None:
        super().__init__(calibration_models=calibration_models, calibration_points=calibration_points)
        self.a = a
        self.gamma = gamma

    def check(self) -> None:
        super().check()
        require(self.a is None or 0 <= self.a <= 1, "a", self.a, "a number from 0 to 1, or none (tuned)")
        require(self.gamma > 0, "gamma", self.gamma, "a positive number")

    def statistic(self, probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
        if probs.ndim == 2:
            return true_class_probability(probs, labels)
        return np.take_along_axis(probs, np.broadcast_to(labels, probs.shape[:-1])[..., None], axis=-1)[
            ..., 0
        ]

    def population_statistics(self, calibration: CalibrationData) -> tuple[Any, Any]:
        refs, target = calibration.references, calibration.target_population
        return (
            self.statistic(refs.population, refs.population_labels),
            self.statistic(target.probs, target.labels),
        )

    def _offline_prior(self, mean_out: np.ndarray) -> np.ndarray:
        # Floored so that outputs with exact zeros (label-only or top-k releases) give ratios of 0, not 0/0.
        return np.maximum(0.5 * ((1 + self.a_) * mean_out + (1 - self.a_)), LOG_FLOOR)

    def build(
        self,
        stats: np.ndarray,
        in_mask: np.ndarray,
        out_mask: np.ndarray,
        population: Any,
        target_population: Any,
    ) -> Any:
        mean_out, _, _ = masked_mean_std(stats, out_mask)
        prior_z = self._offline_prior(population.mean(axis=0))
        ratio_z = np.sort(target_population / prior_z)
        return self._offline_prior(mean_out), ratio_z

    def score_statistic(self, state: Any, target_stats: np.ndarray) -> np.ndarray:
        prior_x, ratio_z = state
        ratio_x = target_stats / prior_x
        beaten = np.searchsorted(ratio_z, ratio_x / self.gamma, side="right")
        # The fraction beaten is a monotone step function of ratio_x; adding ratio_x / (1 + ratio_x) in [0, 1)
        # keeps that order and breaks its ties, e.g. among records that beat every population point.
        return (beaten + ratio_x / (1 + ratio_x)) / (len(ratio_z) + 1)

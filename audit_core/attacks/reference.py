"""Attacks that compare the target with reference models trained with and without each audit point.

A reference attack reduces every output to one per-point statistic, builds per-point expectations from the
reference models, and scores the target's statistic against them. Its decision threshold is calibrated by
attacking reference models themselves: each of the first ``calibration_models`` references plays the target
against the others, and its known IN/OUT mask gives the labels.
"""

from abc import abstractmethod
from typing import Any, Self

import numpy as np

from audit_core.attacks.base import Attack, AttackInput, CalibrationData
from audit_core.metrics import best_balanced_accuracy_threshold


def masked_mean_std(values: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-column mean and sample standard deviation of ``values`` (R, n) over rows where ``mask`` holds.

    Columns with no selected row get the mean of all selected values; columns with fewer than two get the
    standard deviation of all selected values. Returns ``(mean, std, count)``.
    """
    count = mask.sum(axis=0)
    pooled = values[mask]
    pooled_mean = pooled.mean() if pooled.size else 0.0
    pooled_std = pooled.std(ddof=1) if pooled.size > 1 else 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, (values * mask).sum(axis=0) / count, pooled_mean)
        variance = (((values - mean) ** 2) * mask).sum(axis=0) / (count - 1)
    std = np.where(count > 1, np.sqrt(variance), pooled_std)
    return mean, std, count


class ReferenceAttack(Attack):
    """Base of LiRA and RMIA: per-point statistics, reference-model expectations, pseudo-target thresholds."""

    requires = frozenset({"references"})

    def __init__(self, *, calibration_models: int = 2) -> None:
        self.calibration_models = calibration_models

    @abstractmethod
    def statistic(self, probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """The per-point statistic of outputs ``(..., n, k)`` with labels ``(n,)``, shape ``(..., n)``."""

    @abstractmethod
    def build(self, stats: np.ndarray, in_mask: np.ndarray, population: Any, target_population: Any) -> Any:
        """Per-point expectations from reference statistics ``(R, n)`` and their IN/OUT mask."""

    @abstractmethod
    def score_statistic(self, state: Any, target_stats: np.ndarray) -> np.ndarray:
        """Membership scores of the target's statistics ``(n,)`` against ``state`` from :meth:`build`."""

    def population_statistics(self, calibration: CalibrationData) -> tuple[Any, Any]:
        """Reference and target statistics on population points; attacks that need none return Nones."""
        return None, None

    def pseudo_target_scores(
        self, stats: np.ndarray, in_mask: np.ndarray, population: Any, target: int
    ) -> np.ndarray:
        """Scores of reference ``target`` attacked with the other references."""
        others = np.arange(len(stats)) != target
        own_population = None if population is None else population[target]
        reduced_population = None if population is None else population[others]
        state = self.build(stats[others], in_mask[others], reduced_population, own_population)
        return self.score_statistic(state, stats[target])

    def fit(self, calibration: CalibrationData) -> Self:
        refs = calibration.references
        if refs.n_models < 2:
            raise ValueError(f"{self.name} needs at least two reference models; got {refs.n_models}.")
        stats = self.statistic(refs.audit, refs.labels)
        population, target_population = self.population_statistics(calibration)
        self.prepare(stats, refs.in_mask, population)
        pseudo = range(min(self.calibration_models, refs.n_models))
        scores = np.concatenate(
            [self.pseudo_target_scores(stats, refs.in_mask, population, r) for r in pseudo]
        )
        truth = np.concatenate([refs.in_mask[r] for r in pseudo])
        self.threshold_ = best_balanced_accuracy_threshold(scores, truth)
        self.state_ = self.build(stats, refs.in_mask, population, target_population)
        self.n_points_ = stats.shape[1]
        return self

    def prepare(self, stats: np.ndarray, in_mask: np.ndarray, population: Any) -> None:
        """Tune hyperparameters on the references before calibration (nothing by default)."""

    def score(self, outputs: AttackInput) -> np.ndarray:
        if len(outputs) != self.n_points_:
            raise ValueError(
                f"{self.name} was fitted on references for {self.n_points_} audit points, "
                f"but got {len(outputs)}."
            )
        return self.score_statistic(self.state_, self.statistic(outputs.probs, outputs.labels))

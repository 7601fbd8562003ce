"""Attacks that compare the target with reference models trained with and without each audit point.

A reference attack reduces every output to one per-point statistic, builds per-point expectations from the
reference models, and scores the target's statistic against them. Its decision threshold is calibrated by
attacking reference models themselves: each of the first ``calibration_models`` references plays the target
against the others, and its known IN/OUT mask gives the labels; so does the side members lie on
(:class:`~audit_core.attacks.base.SideLearningAttack`).
"""

from abc import abstractmethod
from typing import Any, ClassVar, Self

import numpy as np

from audit_core.attacks.base import AttackInput, CalibrationData, SideLearningAttack, require
from audit_core.stats.metrics import best_balanced_accuracy_threshold, roc_auc

CHUNK = 8_192  # audit points per block when reducing over reference models, to bound temporary memory
CALIBRATION_MODELS = 2  # references that play the target to calibrate the threshold
CALIBRATION_POINTS = 50_000  # audit points the hyperparameters and the threshold are tuned on, at most


def masked_mean_std(values: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-column mean and sample standard deviation of ``values`` (R, n) over rows where ``mask`` holds.

    Columns with no selected row get the mean of all selected values; columns with fewer than two get the
    standard deviation of all selected values. Returns ``(mean, std, count)``; works in column blocks.
    """
    n = values.shape[1]
    mean, std, count = np.empty(n), np.empty(n), mask.sum(axis=0)
    total, total_sq = 0.0, 0.0
    for start in range(0, n, CHUNK):
        block, selected = values[:, start : start + CHUNK], mask[:, start : start + CHUNK]
        masked = np.where(selected, block, 0.0)
        sums, sums_sq = masked.sum(axis=0), (masked * masked).sum(axis=0)
        total, total_sq = total + sums.sum(), total_sq + sums_sq.sum()
        c = count[start : start + CHUNK]
        with np.errstate(invalid="ignore", divide="ignore"):
            mean[start : start + CHUNK] = sums / c
            variance = (sums_sq - c * mean[start : start + CHUNK] ** 2) / (c - 1)
        std[start : start + CHUNK] = np.sqrt(np.maximum(variance, 0.0))
    selected_total = int(count.sum())
    pooled_mean = total / selected_total if selected_total else 0.0
    pooled_var = 1.0
    if selected_total > 1:
        pooled_var = (total_sq - selected_total * pooled_mean**2) / (selected_total - 1)
    mean = np.where(count > 0, mean, pooled_mean)
    std = np.where(count > 1, std, np.sqrt(max(pooled_var, 0.0)))
    return mean, std, count


def blockwise(function, probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``function(probs, labels)`` for reference outputs ``(R, n, k)``, computed in blocks of audit points."""
    return np.concatenate(
        [function(probs[:, i : i + CHUNK], labels[i : i + CHUNK]) for i in range(0, probs.shape[1], CHUNK)],
        axis=1,
    )


class ReferenceAttack(SideLearningAttack):
    """Base of LiRA and RMIA: per-point statistics, reference-model expectations, pseudo-target thresholds."""

    requires = frozenset({"references"})
    #: Hyperparameters chosen on the references where the config gives none (None): name -> values tried.
    choices: ClassVar[dict[str, tuple[Any, ...]]] = {}

    def __init__(
        self, *, calibration_models: int = CALIBRATION_MODELS, calibration_points: int = CALIBRATION_POINTS
    ) -> None:
        self.calibration_models = calibration_models
        self.calibration_points = calibration_points

    def check(self) -> None:
        require(self.calibration_models >= 1, "calibration_models", self.calibration_models, "at least 1")
        require(self.calibration_points >= 1, "calibration_points", self.calibration_points, "at least 1")

    @abstractmethod
    def statistic(self, probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """The per-point statistic of outputs ``(..., n, k)`` with labels ``(n,)``, shape ``(..., n)``."""

    @abstractmethod
    def build(
        self,
        stats: np.ndarray,
        in_mask: np.ndarray,
        out_mask: np.ndarray,
        population: Any,
        target_population: Any,
    ) -> Any:
        """Per-point expectations from reference statistics ``(R, n)``, using the rows selected by ``in_mask``
        (models trained on the point) and ``out_mask`` (models that were not)."""

    @abstractmethod
    def score_statistic(self, state: Any, target_stats: np.ndarray) -> np.ndarray:
        """Membership scores of the target's statistics ``(n,)`` against ``state`` from :meth:`build`."""

    def population_statistics(self, calibration: CalibrationData) -> tuple[Any, Any]:
        """Reference and target statistics on population points; attacks that need none return Nones."""
        return None, None

    def pseudo_target_scores(
        self, stats: np.ndarray, in_mask: np.ndarray, population: Any, target: int
    ) -> np.ndarray:
        """Scores of reference ``target`` attacked with the others (excluded by mask, not copied)."""
        others_in, others_out = in_mask.copy(), ~in_mask
        others_in[target] = others_out[target] = False
        if population is None:
            return self.score_statistic(self.build(stats, others_in, others_out, None, None), stats[target])
        keep = np.arange(len(population)) != target
        state = self.build(stats, others_in, others_out, population[keep], population[target])
        return self.score_statistic(state, stats[target])

    def fit(self, calibration: CalibrationData) -> Self:
        refs = calibration.references
        if refs.n_models < 2:
            raise ValueError(f"{self.name} needs at least two reference models; got {refs.n_models}.")
        stats = blockwise(self.statistic, refs.audit, refs.labels)
        population, target_population = self.population_statistics(calibration)
        # Hyperparameters and the threshold are tuned on an evenly spaced subset of at most
        # ``calibration_points`` audit points: plenty for an AUC, and it keeps large audits linear.
        sample = np.arange(0, stats.shape[1], max(1, -(-stats.shape[1] // self.calibration_points)))
        sample_stats, sample_mask = stats[:, sample], refs.in_mask[:, sample]
        self.choose(sample_stats, sample_mask, population)
        pseudo = range(min(self.calibration_models, refs.n_models))
        scores = np.concatenate(
            [self.pseudo_target_scores(sample_stats, sample_mask, population, r) for r in pseudo]
        )
        truth = np.concatenate([sample_mask[r] for r in pseudo])
        self.threshold_ = best_balanced_accuracy_threshold(self.learn_side(scores, truth), truth)
        self.state_ = self.build(stats, refs.in_mask, ~refs.in_mask, population, target_population)
        self.n_points_ = stats.shape[1]
        return self

    def choose(self, stats: np.ndarray, in_mask: np.ndarray, population: Any) -> None:
        """Set each hyperparameter ``name`` of :attr:`choices` as ``name_``: as given, or, given none, to the
        value of its :meth:`grid` whose attack on reference model 0 with the others has the highest AUC (the
        first of equals), before the threshold is calibrated."""
        for name in self.choices:
            given = getattr(self, name)
            if given is not None:
                setattr(self, f"{name}_", given)
                continue

            def auc_for(value: Any, name: str = name) -> float:
                setattr(self, f"{name}_", value)
                scores = self.pseudo_target_scores(stats, in_mask, population, 0)
                return roc_auc(scores, in_mask[0], n_bootstrap=0).value

            setattr(self, f"{name}_", max(self.grid(name, in_mask), key=auc_for))

    def grid(self, name: str, in_mask: np.ndarray) -> tuple[Any, ...]:
        """The values of hyperparameter ``name`` worth trying with references ``in_mask``: all of
        :attr:`choices`' by default."""
        return self.choices[name]

    def chosen(self) -> dict[str, Any]:
        choices = {name: getattr(self, f"{name}_") for name in self.choices if getattr(self, name) is None}
        return choices | super().chosen()

    def score(self, outputs: AttackInput) -> np.ndarray:
        if len(outputs) != self.n_points_:
            raise ValueError(
                f"{self.name} was fitted on references for {self.n_points_} audit points, "
                f"but got {len(outputs)}."
            )
        return self.side_ * self.score_statistic(self.state_, self.statistic(outputs.probs, outputs.labels))

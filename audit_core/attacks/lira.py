"""Likelihood-ratio attacks: LiRA (Carlini et al. 2022) and the DynaNoise paper's simplified variant."""

from typing import Any, Self

import numpy as np
from scipy import stats as distributions

from audit_core.attacks.base import Attack, AttackInput, CalibrationData, register_attack
from audit_core.attacks.reference import ReferenceAttack, masked_mean_std
from audit_core.probability import safe_log, true_class_probability


def logit_confidence(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``phi = log p_y - log sum_{j != y} p_j`` in float64 for outputs ``(..., n, k)``.

    The other classes are summed directly rather than taken as ``1 - p_y``, which rounds to zero for
    confident outputs.
    """
    probs = np.asarray(probs, dtype=np.float64)
    label_axis = np.expand_dims(np.broadcast_to(labels, probs.shape[:-1]), -1)
    p_y = np.take_along_axis(probs, label_axis, axis=-1)[..., 0]
    others = probs.copy()
    np.put_along_axis(others, label_axis, 0.0, axis=-1)
    return safe_log(p_y) - safe_log(others.sum(axis=-1))


class _LiRA(ReferenceAttack):
    """Gaussian fits of the reference models' logit-scaled confidence per audit point."""

    online: bool

    def __init__(
        self, *, fixed_variance: bool = False, min_std: float = 1e-2, calibration_models: int = 2
    ) -> None:
        super().__init__(calibration_models=calibration_models)
        self.fixed_variance = fixed_variance
        self.min_std = min_std

    def statistic(self, probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
        return logit_confidence(probs, labels)

    def _fit_side(self, stats: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mean, std, _ = masked_mean_std(stats, mask)
        if self.fixed_variance:  # one global spread, as the reference implementation computes it
            std = np.full_like(mean, stats[mask].std())
        return mean, np.maximum(std, self.min_std)

    def build(self, stats: np.ndarray, in_mask: np.ndarray, population: Any, target_population: Any) -> Any:
        out = self._fit_side(stats, ~in_mask)
        return (self._fit_side(stats, in_mask), out) if self.online else (None, out)

    def score_statistic(self, state: Any, target_stats: np.ndarray) -> np.ndarray:
        fit_in, (mean_out, std_out) = state
        if fit_in is None:  # offline: how far above the OUT distribution, rank-equivalent to 1 - P[Z > phi]
            return (target_stats - mean_out) / std_out
        mean_in, std_in = fit_in
        return distributions.norm.logpdf(target_stats, mean_in, std_in) - distributions.norm.logpdf(
            target_stats, mean_out, std_out
        )


@register_attack
class OnlineLiRA(_LiRA):
    """LiRA with IN and OUT Gaussians per point: ``log N(phi; IN) - log N(phi; OUT)``."""

    name = "lira_online"
    online = True


@register_attack
class OfflineLiRA(_LiRA):
    """LiRA with OUT reference models only: the standardised distance of ``phi`` above the OUT Gaussian."""

    name = "lira_offline"
    online = False


@register_attack
class PaperLiRA(Attack):
    """The DynaNoise artifact's simplified LiRA: class-conditional Gaussians of the cross-entropy loss.

    IN and OUT normals per true class are fitted on the shadow models' member and non-member losses (pooled
    over shadow models, sample standard deviation, a global fit for classes with fewer than two points);
    the score is the log-likelihood ratio, member if it is positive, its sign flipped if the flipped rule is
    more accurate on the shadow data.
    """

    name = "paper_lira"
    requires = frozenset({"shadow"})

    def fit(self, calibration: CalibrationData) -> Self:
        shadow = calibration.shadow
        losses = self._loss(shadow.outputs)
        labels = shadow.outputs.labels
        k = shadow.outputs.probs.shape[1]
        self.fits_ = {}
        for side, mask in (("in", shadow.is_member), ("out", ~shadow.is_member)):
            overall = (losses[mask].mean(), max(losses[mask].std(ddof=1), 1e-12))
            per_class = np.tile(overall, (k, 1))
            for c in range(k):
                selected = losses[mask & (labels == c)]
                if selected.size >= 2:
                    per_class[c] = selected.mean(), max(selected.std(ddof=1), 1e-12)
            self.fits_[side] = per_class
        self.direction_ = 1.0
        llr = self.score(shadow.outputs)
        accuracy_positive = np.mean((llr > 0) == shadow.is_member)
        self.direction_ = 1.0 if accuracy_positive >= 0.5 else -1.0
        self.threshold_ = float(np.nextafter(0.0, np.inf))
        return self

    @staticmethod
    def _loss(outputs: AttackInput) -> np.ndarray:
        return -safe_log(true_class_probability(outputs.probs, outputs.labels))

    def score(self, outputs: AttackInput) -> np.ndarray:
        losses = self._loss(outputs)
        (mu_in, sd_in), (mu_out, sd_out) = (self.fits_[s][outputs.labels].T for s in ("in", "out"))
        llr = distributions.norm.logpdf(losses, mu_in, sd_in) - distributions.norm.logpdf(
            losses, mu_out, sd_out
        )
        return self.direction_ * llr

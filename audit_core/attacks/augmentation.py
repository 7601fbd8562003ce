"""The augmentation-robustness attack (Choquette-Choo et al., ICML 2021): members keep their label under small
changes more often than non-members.

The record and its augmentations are sent to the model; the score is the fraction whose released label is
the true label. Images (records of shape ``(c, h, w)``) are augmented by every horizontal flip and shift of
up to ``max_shift`` pixels (zero-padded); other records by ``n_augmentations`` Gaussian perturbations of
``noise`` times each number field's spread.
"""

import itertools

import numpy as np

from audit_core.attacks.base import AttackInput, register_attack, require
from audit_core.attacks.query import CALIBRATION_RECORDS, QueryAttack, released_labels

IMAGE_DIMS = 3  # records of shape (channels, height, width) are images


def shifted(images: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``images`` ``(..., h, w)`` moved ``dy`` rows down and ``dx`` columns right, zero-padded."""
    out = np.zeros_like(images)
    h, w = images.shape[-2:]
    out[..., max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = images[
        ..., max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
    ]
    return out


def image_augmentations(images: np.ndarray, max_shift: int) -> np.ndarray:
    """Every flip x shift of ``images`` ``(b, c, h, w)`` except the identity: ``(b, q, c, h, w)``."""
    shifts = range(-max_shift, max_shift + 1)
    variants = [
        shifted(images[..., ::-1] if flip else images, dy, dx)
        for flip, dy, dx in itertools.product((False, True), shifts, shifts)
        if flip or dy or dx
    ]
    return np.stack(variants, axis=1)


@register_attack
class AugmentationAttack(QueryAttack):
    """Score: the fraction of the record and its augmentations that the model labels correctly."""

    name = "augmentation"

    def __init__(
        self,
        *,
        n_augmentations: int = 16,
        noise: float = 0.3,
        max_shift: int = 1,
        calibration_records: int = CALIBRATION_RECORDS,
        seed: int = 0,
    ) -> None:
        self.n_augmentations = n_augmentations
        self.noise = noise
        self.max_shift = max_shift
        self.calibration_records = calibration_records
        self.seed = seed

    def check(self) -> None:
        super().check()
        require(self.n_augmentations >= 1, "n_augmentations", self.n_augmentations, "at least 1")
        require(self.noise > 0, "noise", self.noise, "a positive number")
        require(self.max_shift >= 0, "max_shift", self.max_shift, "0 or more pixels")

    def queries_per_record(self, record_shape: tuple[int, ...]) -> int:
        if len(record_shape) == IMAGE_DIMS:
            return 2 * (2 * self.max_shift + 1) ** 2 - 1
        return self.n_augmentations

    def augment(self, features: np.ndarray, scale: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The augmentations of records ``(b, ...)``: ``(b, q, ...)``."""
        if features.ndim - 1 == IMAGE_DIMS:
            return image_augmentations(features, self.max_shift)
        draws = rng.standard_normal((len(features), self.n_augmentations, *features.shape[1:]))
        return features[:, None] + self.noise * scale * draws

    def block_statistic(
        self, outputs: AttackInput, rows: np.ndarray, scale: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        labels, records = outputs.labels[rows], outputs.features[rows]
        moved = self.augment(self.number_fields(records), scale, rng)
        kept = released_labels(outputs, rows, self.queries(records, moved), fixed=True)
        correct = (kept == labels[:, None]).sum(axis=1) + (outputs.probs[rows].argmax(axis=1) == labels)
        return correct / (kept.shape[1] + 1)

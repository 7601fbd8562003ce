"""The augmentation-robustness attack (Choquette-Choo et al., ICML 2021): members keep their label under small
changes more often than non-members.

The record and its augmentations are sent to the model; the score is the fraction whose released label is
the true label. Images (records of shape ``(c, h, w)``) are augmented by every horizontal flip and shift of
up to ``max_shift`` pixels (zero-padded); other records by ``n_augmentations`` Gaussian perturbations of
``noise`` times each number field's spread, and, of a table's free text (a review, a message:
:func:`~audit_core.core.records.text_columns`), by leaving each word out with probability ``word_dropout``
(at least one kept), drawn apart from the numbers' noise so that a table without free text is queried as
before.
"""

import itertools
from typing import Self

import numpy as np

from audit_core.attacks.base import AttackInput, CalibrationData, register_attack, require
from audit_core.attacks.query import CALIBRATION_RECORDS, QueryAttack, released_labels
from audit_core.core.records import text_columns
from audit_core.core.seeding import derive_rng

IMAGE_DIMS = 3  # records of shape (channels, height, width) are images


def shifted(images: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``images`` ``(..., h, w)`` moved ``dy`` rows down and ``dx`` columns right, zero-padded."""
    out = np.zeros_like(images)
    h, w = images.shape[-2:]
    out[..., max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = images[
        ..., max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
    ]
    return out


def dropped_words(texts: np.ndarray, copies: int, rate: float, rng: np.random.Generator) -> np.ndarray:
    """``copies`` variants ``(b, copies)`` of each text of ``texts`` ``(b,)``, each word left out with
    probability ``rate`` (the first word kept when all would be); a missing value stays missing.

    >>> dropped_words(np.array(["a b c", None], dtype=object), 2, 0.5, np.random.default_rng(0)).tolist()
    [['a', 'b c'], [None, None]]
    """
    variants = np.empty((len(texts), copies), dtype=object)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            variants[i] = text
            continue
        words = np.array(text.split(), dtype=object)
        kept = rng.random((copies, len(words))) >= rate
        variants[i] = [" ".join(words[keep] if keep.any() else words[:1]) for keep in kept]
    return variants


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
        word_dropout: float = 0.2,
        max_shift: int = 1,
        calibration_records: int = CALIBRATION_RECORDS,
        seed: int = 0,
    ) -> None:
        self.n_augmentations = n_augmentations
        self.noise = noise
        self.word_dropout = word_dropout
        self.max_shift = max_shift
        self.calibration_records = calibration_records
        self.seed = seed

    def check(self) -> None:
        super().check()
        require(self.n_augmentations >= 1, "n_augmentations", self.n_augmentations, "at least 1")
        require(self.noise > 0, "noise", self.noise, "a positive number")
        require(0 < self.word_dropout < 1, "word_dropout", self.word_dropout, "a probability in (0, 1)")
        require(self.max_shift >= 0, "max_shift", self.max_shift, "0 or more pixels")

    def fit(self, calibration: CalibrationData) -> Self:
        self.text_columns_ = np.flatnonzero(text_columns(calibration.shadow_queries.outputs.features))
        return super().fit(calibration)

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
        queries = self.queries(records, moved)
        if self.text_columns_.size:  # words left out with draws of their own, the block's
            words = derive_rng(self.seed, "word-dropout", str(rows[0]))
            for column in self.text_columns_:
                queries[..., column] = dropped_words(
                    records[:, column], queries.shape[1], self.word_dropout, words
                )
        kept = released_labels(outputs, rows, queries, fixed=True)
        correct = (kept == labels[:, None]).sum(axis=1) + (outputs.probs[rows].argmax(axis=1) == labels)
        return correct / (kept.shape[1] + 1)

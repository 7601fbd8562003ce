"""HAMP's inference-time output modification (Chen & Pattabiraman, NDSS 2024; notes, section 5).

HAMP replaces the confidence values of each answer with those the model gives a random input, placed in the
answer's own rank order: ``released[argsort(p)[j]] = sort(F(x_rand))[j]``. The ranking (and so the label)
is kept (where the random input's top confidences tie, the answer's top class is made the larger by one unit
in the last place), while the confidence values carry no information about the queried record. HAMP's
training-time part (high-entropy soft labels) is not applied here: this is the post-hoc output modification
alone.
"""

from dataclasses import dataclass
from typing import Self

import numpy as np

from audit_core.core.probability import softmax
from audit_core.defenses.base import DefenderData, Defense, keep_top_unique, register_defense


@register_defense
@dataclass(eq=False)
class HampOutput(Defense):
    """HAMP's output modification: the answer's ranking with a random input's confidence values.

    A rank-preserving replacement of the output by a random-input output: ``fit`` stores the target's
    softmax outputs on random inputs, each sorted in descending order; every query draws one of them from
    ``rng`` (as if a fresh random input were generated per query).
    """

    name = "hamp"
    preserves_label = True
    requires = frozenset({"random_inputs"})

    def fit(self, data: DefenderData, rng: np.random.Generator) -> Self:
        reference = softmax(data.random_input_logits)
        self.reference_ = -np.sort(-reference, axis=1)
        return self

    def apply(self, logits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        logits = self._checked(logits)
        reference = self.reference_[self._drawn(len(logits), rng)]
        ranking = np.argsort(-logits, axis=1, kind="stable")
        released = np.empty_like(reference)
        np.put_along_axis(released, ranking, reference, axis=1)
        return keep_top_unique(released, ranking[:, 0])  # a random input's confidences may tie at the top

    def observed_labels(self, logits: np.ndarray, rng: np.random.Generator, repeats: int) -> np.ndarray:
        """The model's labels: every answer keeps the ranking with its top unique, and so does a mean of
        answers. The random inputs are drawn, so what is drawn from ``rng`` afterwards is what it would be."""
        logits = self._checked(logits)
        for _ in range(repeats):
            self._drawn(len(logits), rng)
        return logits.argmax(axis=1)

    def _checked(self, logits: np.ndarray) -> np.ndarray:
        """``logits`` as float64, refused before ``fit`` or with another number of classes."""
        if not hasattr(self, "reference_"):
            raise RuntimeError("HampOutput needs fit() with the target's outputs on random inputs first.")
        logits = np.asarray(logits, dtype=np.float64)
        if logits.shape[1] != self.reference_.shape[1]:
            raise ValueError(
                f"HampOutput was fitted on {self.reference_.shape[1]} classes but got {logits.shape[1]}."
            )
        return logits

    def _drawn(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Which random input's confidences each of ``n`` answers gets."""
        return rng.integers(len(self.reference_), size=n)

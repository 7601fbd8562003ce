"""How like the target its reference models are: their accuracy on the audit points they trained on and on
those they did not, against the target's on its members and non-members, and the generalisation gaps.

Reference models unlike the target (another accuracy, another gap) make LiRA and RMIA understate the risk,
so the audit states the comparison and warns when it is clearly off: beyond :data:`TOLERANCE` plus twice
the target's own sampling error.
"""

import math
from dataclasses import asdict, dataclass

import numpy as np

from audit_core.audit.signals import Signals

TOLERANCE = 0.05  # accuracy or gap difference, beyond sampling error, that makes references clearly unlike
#: What to check when references of each kind are unlike the target (``trained``: the recipe's references
#: of a target dynaudit trained with the same recipe).
ADVICE = {
    "recipe": "give references of the target's own kind (references.kind)",
    "trained": "the target and its references train alike, so check the audit's data",
    "architecture": "train them as the target was trained (recipe: epochs, optimizer, learning_rate, "
    "batch_size), or give the target's training code (references.kind: function)",
    "clone": "clones refit the target's own estimator, so check that data.members are the records it "
    "was trained on",
    "function": "check that references.function trains as the target was trained, on data like the members",
    "predictions": "check that the reference predictions come from models trained as the target was",
}


def fidelity_advice(reference_kind: str, target_kind: str) -> str:
    """What to check when references of ``reference_kind`` (resolved) are unlike a target of
    ``target_kind``."""
    return ADVICE["trained" if target_kind == "trained" and reference_kind == "recipe" else reference_kind]


@dataclass(frozen=True)
class Fidelity:
    """Accuracies of the target and (mean and spread over models) of its reference models."""

    models: str  # what the references are, e.g. "16 clones of RandomForestClassifier()"
    advice: str  # what to check when they are unlike the target (:func:`fidelity_advice`)
    n_models: int
    target_train: float  # on the members
    target_held_out: float  # on the non-members
    train_mean: float  # each reference on its IN audit points
    train_std: float
    held_out_mean: float  # each reference on its OUT audit points
    held_out_std: float
    gap_mean: float
    gap_std: float
    n_members: int
    n_non_members: int

    @property
    def target_gap(self) -> float:
        """The target's train-test gap: accuracy on members minus accuracy on non-members."""
        return self.target_train - self.target_held_out

    def statement(self) -> str:
        """E.g. ``16 clones of RandomForestClassifier() on complementary halves of the 400 audit points;
        held-out accuracy 0.96 ± 0.01, target 0.97; train-test gap 0.04 ± 0.01, target 0.03.``"""
        return (
            f"{self.models} on complementary halves of the {self.n_members + self.n_non_members} audit "
            f"points; held-out accuracy {self.held_out_mean:.2f} ± {self.held_out_std:.2f}, target "
            f"{self.target_held_out:.2f}; train-test gap {self.gap_mean:.2f} ± {self.gap_std:.2f}, target "
            f"{self.target_gap:.2f}."
        )

    def warning(self) -> str | None:
        """One sentence when the references' held-out accuracy or gap is clearly unlike the target's."""
        p_in, p_out = self.target_train, self.target_held_out
        se_out = math.sqrt(p_out * (1 - p_out) / self.n_non_members)
        se_gap = math.sqrt(p_in * (1 - p_in) / self.n_members + se_out**2)
        unlike = [
            f"{what} {ours:.2f} against the target's {theirs:.2f}"
            for what, ours, theirs, error in (
                ("held-out accuracy", self.held_out_mean, p_out, se_out),
                ("train-test gap", self.gap_mean, self.target_gap, se_gap),
            )
            if abs(ours - theirs) > TOLERANCE + 2 * error
        ]
        if not unlike:
            return None
        return (
            f"The reference models are unlike the target ({'; '.join(unlike)}), so LiRA and RMIA may "
            f"understate its risk; {self.advice}."
        )

    def as_dict(self) -> dict:
        """Plain values for the manifest, with the statement and the warning (None when alike)."""
        return {**asdict(self), "statement": self.statement(), "warning": self.warning()}


def _accuracy(correct: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return np.array([row[keep].mean() for row, keep in zip(correct, mask, strict=True)])


def reference_fidelity(signals: Signals, models: str, advice: str) -> Fidelity | None:
    """The fidelity of the references in ``signals`` (None without references); ``models`` says what they
    are, ``advice`` what to check when they are unlike the target."""
    refs = signals.references
    if refs is None:
        return None
    labels = signals.audit_labels
    correct = refs.audit.argmax(axis=-1) == labels
    train, held_out = _accuracy(correct, refs.in_mask), _accuracy(correct, ~refs.in_mask)
    gap = train - held_out
    target = [
        float((part.logits.argmax(axis=1) == part.labels).mean())
        for part in (signals.members, signals.non_members)
    ]
    return Fidelity(
        models=models,
        advice=advice,
        n_models=len(correct),
        target_train=target[0],
        target_held_out=target[1],
        train_mean=float(train.mean()),
        train_std=float(train.std()),
        held_out_mean=float(held_out.mean()),
        held_out_std=float(held_out.std()),
        gap_mean=float(gap.mean()),
        gap_std=float(gap.std()),
        n_members=len(signals.members),
        n_non_members=len(signals.non_members),
    )

"""Signals: the logits of the target and of the attacker's shadow model on the audit points."""

from dataclasses import dataclass

import numpy as np

from audit_core.data import AuditData, Split
from audit_core.errors import DataError
from audit_core.targets import Target


@dataclass(frozen=True)
class LogitSet:
    """Logits ``(n, k)`` of one model on one set of points, with their labels and record ids."""

    logits: np.ndarray
    labels: np.ndarray
    ids: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True)
class Signals:
    """Everything the attacks need: target logits on the audit points, shadow logits for calibration."""

    members: LogitSet
    non_members: LogitSet
    test: LogitSet
    shadow_members: LogitSet
    shadow_non_members: LogitSet


def shadow_split(population: Split, n_in: int, n_out: int, rng: np.random.Generator) -> tuple[Split, Split]:
    """Draw disjoint shadow-training (in) and shadow-held-out (out) sets from the population."""
    if n_in + n_out > len(population):
        raise DataError(
            f"The population set has {len(population)} rows but the shadow model needs {n_in} to train on "
            f"and {n_out} held out; supply at least {n_in + n_out} population rows."
        )
    order = rng.permutation(len(population))
    return population.subset(order[:n_in]), population.subset(order[n_in : n_in + n_out])


def model_logits(model: Target, split: Split, n_classes: int, who: str) -> LogitSet:
    """Query ``model`` on ``split`` and check the logits are finite with one column per class."""
    logits = model.logits(split.features)
    if logits.shape != (len(split), n_classes):
        raise DataError(
            f"The {who} returned logits of shape {logits.shape}; expected ({len(split)}, {n_classes}) "
            "(one column per class in the labels)."
        )
    if not np.all(np.isfinite(logits)):
        raise DataError(f"The {who} returned NaN or infinite logits; expected finite values.")
    return LogitSet(logits, split.labels, split.ids)


def compute_signals(
    target: Target, shadow: Target, data: AuditData, shadow_in: Split, shadow_out: Split
) -> Signals:
    """Query the target on members, non-members and test points, and the shadow on its own in/out sets."""
    k = data.n_classes
    return Signals(
        members=model_logits(target, data.members, k, "target on the member set"),
        non_members=model_logits(target, data.non_members, k, "target on the non-member set"),
        test=model_logits(target, data.test, k, "target on the test set"),
        shadow_members=model_logits(shadow, shadow_in, k, "shadow model on its training set"),
        shadow_non_members=model_logits(shadow, shadow_out, k, "shadow model on its held-out set"),
    )

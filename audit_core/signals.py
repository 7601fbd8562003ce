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
class ReferenceLogits:
    """Logits of ``R`` reference models on the audit points ``(R, n, k)`` (members then non-members) with
    their IN/OUT masks ``(R, n)``, and on the population points ``(R, m, k)``."""

    audit: np.ndarray
    in_mask: np.ndarray
    population: np.ndarray


@dataclass(frozen=True)
class Signals:
    """Everything the attacks need: the target's logits on the audit, test and population points, the shadow
    models' logits on their own in/out sets (pooled over shadow models), and reference-model logits."""

    members: LogitSet
    non_members: LogitSet
    test: LogitSet
    population: LogitSet
    shadow_members: LogitSet
    shadow_non_members: LogitSet
    references: ReferenceLogits | None = None

    @property
    def audit_labels(self) -> np.ndarray:
        """Labels of the audit points: members first, then non-members."""
        return np.concatenate([self.members.labels, self.non_members.labels])

    @property
    def is_member(self) -> np.ndarray:
        """Membership of the audit points, in the same order."""
        return np.r_[np.ones(len(self.members), bool), np.zeros(len(self.non_members), bool)]


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


def _pooled(models: list[Target], split: Split, n_classes: int, who: str) -> LogitSet:
    sets = [model_logits(m, split, n_classes, f"{who} {i}") for i, m in enumerate(models)]
    return LogitSet(
        np.concatenate([s.logits for s in sets]),
        np.concatenate([s.labels for s in sets]),
        np.concatenate([s.ids for s in sets]),
    )


def compute_signals(
    target: Target,
    shadows: list[Target],
    data: AuditData,
    shadow_in: Split,
    shadow_out: Split,
    references: list[Target],
    in_mask: np.ndarray,
) -> Signals:
    """Query the target on the audit, test and population points, each shadow model on its own in/out sets,
    and each reference model on the audit and population points."""
    k = data.n_classes
    audit_points = data.audit_points()
    reference_logits = None
    if references:
        reference_logits = ReferenceLogits(
            audit=np.stack([model_logits(r, audit_points, k, "reference model").logits for r in references]),
            in_mask=in_mask,
            population=np.stack(
                [model_logits(r, data.population, k, "reference model").logits for r in references]
            ),
        )
    return Signals(
        members=model_logits(target, data.members, k, "target on the member set"),
        non_members=model_logits(target, data.non_members, k, "target on the non-member set"),
        test=model_logits(target, data.test, k, "target on the test set"),
        population=model_logits(target, data.population, k, "target on the population set"),
        shadow_members=_pooled(shadows, shadow_in, k, "shadow model on its training set"),
        shadow_non_members=_pooled(shadows, shadow_out, k, "shadow model on its held-out set"),
        references=reference_logits,
    )

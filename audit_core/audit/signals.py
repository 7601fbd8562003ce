"""Signals: logits of the target on the audit points, and of the attacker's shadow and reference models."""

from dataclasses import dataclass, replace

import numpy as np

from audit_core.audit.class_order import check_class_order
from audit_core.core.errors import DataError, capitalised
from audit_core.core.records import movable, readable
from audit_core.data import AuditData, Split
from audit_core.targets import ModelTarget, Target


@dataclass(frozen=True)
class LogitSet:
    """Logits ``(n, k)`` of one model on one set of points, with their labels and record ids, and the
    records' features when attacks can read them (:func:`~audit_core.core.records.readable`: what QMIA
    regresses on and query attacks perturb)."""

    logits: np.ndarray
    labels: np.ndarray
    ids: np.ndarray
    features: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: np.ndarray) -> "LogitSet":
        """The rows at ``index``, in that order."""
        features = None if self.features is None else self.features[index]
        return LogitSet(self.logits[index], self.labels[index], self.ids[index], features)


def stacked_features(*sets: LogitSet) -> np.ndarray | None:
    """The features of ``sets`` one after another, or None unless every set has them."""
    if any(s.features is None for s in sets):
        return None
    return np.concatenate([s.features for s in sets])


@dataclass(frozen=True)
class QueryModels:
    """The models an attacker can query around records (label-only query attacks): the target, and the
    shadow models (one per block of ``shadow_members`` / ``shadow_non_members`` rows, in pooling order)."""

    target: ModelTarget
    shadows: tuple[ModelTarget, ...] = ()


@dataclass(frozen=True)
class ReferenceLogits:
    """Logits of ``R`` reference models on the audit points ``(R, n, k)`` (members then non-members) with
    their IN/OUT masks ``(R, n)``, and on the population points ``(R, m, k)`` with their labels ``(m,)``."""

    audit: np.ndarray
    in_mask: np.ndarray
    population: np.ndarray
    population_labels: np.ndarray


@dataclass(frozen=True)
class Signals:
    """Everything the attacks need: the target's logits on the audit and test points (and on the population
    points, when it can answer for them), the shadow models' logits on their own in/out sets (pooled over
    shadow models; absent without a shadow) and reference-model logits (absent without references)."""

    members: LogitSet
    non_members: LogitSet
    test: LogitSet
    population: LogitSet | None = None
    shadow_members: LogitSet | None = None
    shadow_non_members: LogitSet | None = None
    references: ReferenceLogits | None = None
    query_models: QueryModels | None = None
    #: whether the target takes whole numbers (token ids, category codes), which the query attacks cannot move
    integer_inputs: bool = False

    @property
    def audit_labels(self) -> np.ndarray:
        """Labels of the audit points: members first, then non-members."""
        return np.concatenate([self.members.labels, self.non_members.labels])

    @property
    def is_member(self) -> np.ndarray:
        """Membership of the audit points, in the same order."""
        return np.r_[np.ones(len(self.members), bool), np.zeros(len(self.non_members), bool)]

    @property
    def has_shadow(self) -> bool:
        """Whether shadow outputs exist to calibrate attacks on."""
        return self.shadow_members is not None and self.shadow_non_members is not None

    @property
    def audit_features(self) -> np.ndarray | None:
        """Features of the audit points (members, then non-members), when numeric."""
        return stacked_features(self.members, self.non_members)

    def with_models(
        self,
        shadow: tuple[LogitSet, LogitSet] | None,
        references: ReferenceLogits | None,
        shadow_models: tuple[Target, ...] = (),
    ) -> "Signals":
        """These signals plus the shadow's logits on its (in, out) records and the reference logits; the
        ``shadow_models`` (those whose outputs ``shadow`` pools, in order) become the query models' shadows
        when the target answers queries."""
        members, non_members = shadow or (None, None)
        query_models = self.query_models
        if query_models is not None:
            query_models = replace(query_models, shadows=tuple(shadow_models))
        return replace(
            self,
            shadow_members=members,
            shadow_non_members=non_members,
            references=references,
            query_models=query_models,
        )

    def select(self, **index: np.ndarray) -> "Signals":
        """These signals on the given rows of ``members``, ``non_members`` and/or ``test`` (keyword: part,
        value: row indices); the reference logits on the audit points follow the members and non-members."""
        parts = {part: getattr(self, part).subset(rows) for part, rows in index.items()}
        references = self.references
        if references is not None:
            audit = np.concatenate(
                [
                    index.get("members", np.arange(len(self.members))),
                    len(self.members) + index.get("non_members", np.arange(len(self.non_members))),
                ]
            )
            references = replace(
                references, audit=references.audit[:, audit], in_mask=references.in_mask[:, audit]
            )
        return replace(self, **parts, references=references)


def shadow_split(population: Split, n_in: int, n_out: int, rng: np.random.Generator) -> tuple[Split, Split]:
    """Draw disjoint shadow-training (in) and shadow-held-out (out) sets from the population."""
    if n_in + n_out > len(population):
        raise DataError(
            f"The population set has {len(population)} rows but the shadow model needs {n_in} to train on "
            f"and {n_out} held out; supply at least {n_in + n_out} population rows."
        )
    order = rng.permutation(len(population))
    return population.subset(order[:n_in]), population.subset(order[n_in : n_in + n_out])


def _shape_problem(shape: tuple[int, ...], records: int, n_classes: int) -> str:
    """What is wrong with logits of ``shape`` for ``records`` records of ``n_classes`` classes, and what
    to change."""
    classes = f"the data have {n_classes} classes (labels 0..{n_classes - 1})"
    if len(shape) != 2 or shape[0] != records:
        return (
            f"gave logits of shape {shape} for {records} records; expected a row of class scores per record."
        )
    if shape[1] < n_classes:
        return (
            f"gives {shape[1]} class scores per record but {classes}; expected labels that index the model's "
            f"outputs, 0..{shape[1] - 1} (labels counted from 1 must start at 0, and data.n_classes must not "
            "exceed the model's outputs)."
        )
    return (
        f"gives {shape[1]} class scores per record but {classes}; set data.n_classes: {shape[1]} if the "
        "data lack some of the model's classes."
    )


def check_logits(logits: np.ndarray, split: Split, n_classes: int, who: str) -> LogitSet:
    """``logits`` for ``split`` as a LogitSet, after checking one finite column per class."""
    who = capitalised(who)
    if logits.shape != (len(split), n_classes):
        raise DataError(f"{who} {_shape_problem(logits.shape, len(split), n_classes)}")
    broken = (~np.isfinite(logits)).any(axis=1)
    if broken.any():
        missing = int((broken & split.missing()).sum())
        cause = (
            f" ({missing} of them have missing (NaN) features: impute them as the model's training data were)"
        )
        raise DataError(
            f"{who} gave NaN or infinite logits for {int(broken.sum())} of {len(split)} records"
            f"{cause if missing else ''}; expected finite values."
        )
    return LogitSet(logits, split.labels, split.ids, split.features if readable(split.features) else None)


def model_logits(model: Target, split: Split, n_classes: int, who: str) -> LogitSet:
    """Query ``model`` on ``split`` and check the logits are finite with one column per class."""
    return check_logits(model.query(split), split, n_classes, who)


def pooled_logits(models: list[Target], split: Split, n_classes: int, who: str) -> LogitSet:
    """The logits of every model in ``models`` on ``split``, stacked one model after another."""
    sets = [model_logits(m, split, n_classes, f"{who} {i}") for i, m in enumerate(models)]
    return LogitSet(
        np.concatenate([s.logits for s in sets]),
        np.concatenate([s.labels for s in sets]),
        np.concatenate([s.ids for s in sets]),
        stacked_features(*sets),
    )


def shadow_signals(
    shadows: list[Target], shadow_in: Split, shadow_out: Split, n_classes: int
) -> tuple[LogitSet, LogitSet]:
    """Each shadow model's logits on its training (in) and held-out (out) records, pooled over the models."""
    return (
        pooled_logits(shadows, shadow_in, n_classes, "the shadow model on its training set"),
        pooled_logits(shadows, shadow_out, n_classes, "the shadow model on its held-out set"),
    )


def target_signals(target: Target, data: AuditData) -> Signals:
    """The target's logits on the members, non-members and test points, and on the population points when
    the target covers them (a predictions table may not); the target is a query model when the query attacks
    can move its records (:func:`moves_records`). No shadow or reference outputs yet. Refused when its
    outputs follow another class order than the labels (:mod:`audit_core.audit.class_order`)."""
    parts = ["members", "non_members", "test"]
    if target.covers(data.population):
        parts.append("population")
    logit_sets = {}
    for part in parts:
        split = getattr(data, part)
        logit_sets[part] = model_logits(target, split, data.n_classes, f"the target on {data.where(part)}")
    held_out = [logit_sets["non_members"], logit_sets["test"]]
    check_class_order(
        (logit_sets["members"].labels, logit_sets["members"].logits),
        (np.concatenate([s.labels for s in held_out]), np.vstack([s.logits for s in held_out])),
        "non-member and test records",
    )
    return Signals(
        **logit_sets,
        query_models=QueryModels(target) if moves_records(target, data.members.features) else None,
        integer_inputs=isinstance(target, ModelTarget) and target.integer_inputs,
    )


def moves_records(target: Target, features: np.ndarray) -> bool:
    """Whether the query attacks can ask ``target`` about moved copies of records ``features``: a model (not a
    predictions table) of records with a number field (:func:`~audit_core.core.records.movable`) that takes
    numbers, not whole-number codes."""
    return isinstance(target, ModelTarget) and not target.integer_inputs and movable(features)


def reference_logits(
    references: list[Target], in_mask: np.ndarray, data: AuditData
) -> ReferenceLogits | None:
    """Each reference model's logits on the audit and population points, or None without references."""
    if not references:
        return None
    k, audit_points = data.n_classes, data.audit_points()
    return ReferenceLogits(
        audit=np.stack([model_logits(r, audit_points, k, "reference model").logits for r in references]),
        in_mask=in_mask,
        population=np.stack(
            [model_logits(r, data.population, k, "reference model").logits for r in references]
        ),
        population_labels=data.population.labels,
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
    """All signals of an audit whose shadow and reference models dynaudit trained: the target on the audit,
    test and population points, each shadow model on its own in/out sets, each reference model on the audit
    and population points."""
    shadow = shadow_signals(shadows, shadow_in, shadow_out, data.n_classes)
    return target_signals(target, data).with_models(
        shadow, reference_logits(references, in_mask, data), tuple(shadows)
    )

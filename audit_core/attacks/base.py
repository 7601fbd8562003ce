"""The Attack contract: ``Attack(**params).fit(calibration).score(outputs) -> scores`` (higher = member)."""

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, Self

import numpy as np

from audit_core.core.records import has_number_fields
from audit_core.stats.family import null_auc_high
from audit_core.stats.metrics import roc_auc

#: The chance that calibration data without any membership signal make a side-learning attack read its
#: statistic reversed (one-sided).
SIDE_EVIDENCE = 0.025


class Ask(Protocol):
    """Label-only query access to the model(s) that released a batch of outputs, through the defense under
    audit: ``ask(rows, inputs)`` with ``rows`` ``(b,)`` indices into the batch and ``inputs``
    ``(b, q, *record shape)`` (``q`` queries about each of those records) -> the released labels ``(b, q)``
    (the argmax of each released probability vector), each record's queries answered by the model that
    released its row. ``fixed``: the queries depend on no answer, so every run of the attack sends them
    again (the model's logits on them may be kept)."""

    def __call__(self, rows: np.ndarray, inputs: np.ndarray, fixed: bool = False) -> np.ndarray: ...


@dataclass(frozen=True)
class AttackInput:
    """Released probability vectors ``(n, k)`` and the true labels ``(n,)`` of the queried points; where the
    attacker has them, the records' numeric ``features`` ``(n, ...)`` and ``ask``, query access to the model
    through the defense (what label-only query attacks use)."""

    probs: np.ndarray
    labels: np.ndarray
    features: np.ndarray | None = None
    ask: Ask | None = None

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError`` unless the arrays form a batch of probability vectors with valid labels."""
        if self.probs.ndim != 2:
            raise ValueError(f"probs must be a 2-D array (n, k); got shape {self.probs.shape}.")
        if self.labels.shape != (self.probs.shape[0],):
            raise ValueError(f"labels must have shape ({self.probs.shape[0]},); got {self.labels.shape}.")
        if not np.all(np.isfinite(self.probs)):
            raise ValueError("probs contain NaN or infinite values.")
        if not np.allclose(self.probs.sum(axis=1), 1.0, atol=1e-5):
            raise ValueError("probs rows must sum to 1: pass probabilities, not logits.")
        if len(self.labels) and (self.labels.min() < 0 or self.labels.max() >= self.probs.shape[1]):
            raise ValueError(f"labels must lie in [0, {self.probs.shape[1] - 1}].")
        if self.features is not None and len(self.features) != len(self.labels):
            raise ValueError(f"features must have {len(self.labels)} rows; got {len(self.features)}.")
        if self.ask is not None and self.features is None:
            raise ValueError("query access (ask) needs the records' features to query around.")

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True)
class ShadowOutputs:
    """Outputs of the attacker's shadow model(s) on points whose membership the attacker knows."""

    outputs: AttackInput
    is_member: np.ndarray

    def __post_init__(self) -> None:
        if self.is_member.shape != (len(self.outputs),) or self.is_member.dtype != bool:
            raise ValueError("is_member must be a boolean array with one entry per shadow output.")
        if self.is_member.all() or not self.is_member.any():
            raise ValueError("shadow outputs need both members and non-members.")


@dataclass(frozen=True)
class ReferenceOutputs:
    """Outputs of ``R`` reference models on the ``n`` audit points and on ``m`` population points.

    ``in_mask[r, i]`` says whether audit point ``i`` was in reference model ``r``'s training set; population
    points are in no reference model's training set.
    """

    audit: np.ndarray  # (R, n, k) probabilities
    labels: np.ndarray  # (n,)
    in_mask: np.ndarray  # (R, n) bool
    population: np.ndarray  # (R, m, k) probabilities
    population_labels: np.ndarray  # (m,)

    def __post_init__(self) -> None:
        r, n, _ = self.audit.shape
        if self.in_mask.shape != (r, n) or self.labels.shape != (n,):
            raise ValueError(f"reference outputs (R={r}, n={n}) do not match in_mask {self.in_mask.shape}.")
        if self.population.shape[:2] != (r, len(self.population_labels)):
            raise ValueError("reference population outputs do not match the population labels.")

    @property
    def n_models(self) -> int:
        """``R``, the number of reference models."""
        return self.audit.shape[0]


@dataclass(frozen=True)
class CalibrationData:
    """What the attacker knows besides the target's answers on the audit points.

    ``shadow``: shadow-model outputs of known membership. ``references``: reference-model outputs with IN/OUT
    masks. ``target_population``: the target's outputs on population points (non-members of every model).
    Each attack says which of these it ``requires``; an audit skips attacks whose inputs are missing.
    """

    shadow: ShadowOutputs | None = None
    references: ReferenceOutputs | None = None
    target_population: AttackInput | None = None

    @property
    def number_fields(self) -> ShadowOutputs | None:
        """The shadow outputs with query access, when the records have a number field to move along."""
        shadow = self.shadow_queries
        return shadow if shadow is not None and has_number_fields(shadow.outputs.features) else None

    @property
    def population_features(self) -> AttackInput | None:
        """The target's population outputs, when they come with the records' features (for QMIA)."""
        population = self.target_population
        return population if population is not None and population.features is not None else None

    @property
    def shadow_queries(self) -> ShadowOutputs | None:
        """The shadow outputs, when the attacker can query the shadow model around its records."""
        return self.shadow if self.shadow is not None and self.shadow.outputs.ask is not None else None

    def missing(self, required: frozenset[str]) -> list[str]:
        """The required inputs that are absent, in a stable order (number fields to move along only where the
        shadow queries themselves are there)."""
        absent = {name for name in required if getattr(self, name) is None}
        return sorted(absent - {"number_fields"} if "shadow_queries" in absent else absent)


class Attack(ABC):
    """A membership-inference attack, in scikit-learn estimator style.

    ``__init__`` stores keyword hyperparameters only; ``fit`` learns from calibration data and sets
    ``threshold_`` (the decision threshold of ``predict``); ``score`` gives one membership score per queried
    point, larger meaning more likely a member.
    """

    name: ClassVar[str]
    requires: ClassVar[frozenset[str]] = frozenset()
    #: True when the score reads released labels only (never a confidence): a defense that keeps the label
    #: of every query leaves it exactly as on the undefended model.
    reads_labels_only: ClassVar[bool] = False
    threshold_: float

    def check(self) -> None:
        """Raise ``ValueError`` with one sentence if the hyperparameters cannot work (the config's check calls
        it before the audit starts); every setting works unless an attack says otherwise."""
        return None

    @abstractmethod
    def fit(self, calibration: CalibrationData) -> Self:
        """Learn the attack's state from what the attacker knows; returns ``self``."""

    @abstractmethod
    def score(self, outputs: AttackInput) -> np.ndarray:
        """One membership score per row of ``outputs``; larger means more likely a member."""

    def chosen(self) -> dict[str, Any]:
        """The hyperparameters the attack chose itself when fitted (none unless an attack says otherwise)."""
        return {}

    def predict(self, outputs: AttackInput) -> np.ndarray:
        """Membership decisions at the calibrated threshold: ``score >= threshold_``."""
        return self.score(outputs) >= self.threshold_


class SideLearningAttack(Attack):
    """An attack whose statistic is published with members on the higher side, and which learns from its
    calibration data whether they are. A defense that over-corrects can reverse a signal without removing it;
    an attacker who calibrates on defended outputs (the adaptive attacker) sees that and reads the signal the
    other way. The published side stands unless the calibration data show the reversal beyond chance: an AUC
    below what a statistic without any signal falls under with probability :data:`SIDE_EVIDENCE` (the
    Mann-Whitney null; fewer than that where the statistic has ties), so a weak published signal keeps its
    side."""

    #: False for an attack whose statistic compares members' and non-members' fits itself (a likelihood
    #: ratio): it has no side to learn, and a side learned on few calibration models would only add noise.
    learns_side: ClassVar[bool] = True
    side_: float

    def learn_side(self, statistic: np.ndarray, is_member: np.ndarray) -> np.ndarray:
        """Set ``side_`` (1.0 published, -1.0 reversed) from the calibration ``statistic`` and return it
        read on that side."""
        if not self.learns_side:
            self.side_ = 1.0
            return statistic
        members = int(np.sum(is_member))
        chance_low = 1 - null_auc_high(members, len(is_member) - members, SIDE_EVIDENCE)  # the null's mirror
        self.side_ = -1.0 if roc_auc(statistic, is_member, n_bootstrap=0).value < chance_low else 1.0
        return self.side_ * statistic

    def chosen(self) -> dict[str, Any]:
        if not self.learns_side:
            return {}
        return {"side": "published" if self.side_ > 0 else "reversed"}


def require(holds: bool, name: str, value: object, expected: str) -> None:
    """:meth:`Attack.check`'s sentence for one hyperparameter, unless ``holds``."""
    if not holds:
        raise ValueError(f"{name} = {value!r}; expected {expected}.")


ATTACKS: dict[str, type[Attack]] = {}


def register_attack(cls: type[Attack]) -> type[Attack]:
    """Class decorator adding an attack to the :data:`ATTACKS` registry under ``cls.name``."""
    ATTACKS[cls.name] = cls
    return cls

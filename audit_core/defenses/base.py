"""The Defense contract: logits in, probability vectors out, randomness from an explicit Generator."""

import operator
from abc import ABC, abstractmethod
from dataclasses import dataclass, field, fields, replace
from typing import Any, ClassVar, Self, TypeVar

import numpy as np

from audit_core.core.errors import AuditInputError
from audit_core.core.probability import softmax
from audit_core.core.seeding import derive_rng

#: The bounds a parameter may carry (pydantic's names): the test a value passes and how a message writes it.
BOUNDS = {"ge": (operator.ge, ">="), "gt": (operator.gt, ">"), "le": (operator.le, "<=")}


def parameter(default: Any, description: str, **bounds: float) -> Any:
    """A Defense parameter: a dataclass field with its default, a one-line description and its bounds
    (``ge``, ``gt``, ``le``). The defense refuses values outside the bounds; the config form shows all
    three."""
    unknown = set(bounds) - BOUNDS.keys()
    if unknown:
        raise TypeError(f"unknown bound {sorted(unknown)[0]!r}; expected one of {sorted(BOUNDS)}")
    return field(default=default, metadata={"description": description, **bounds})


@dataclass(frozen=True)
class DefenderData:
    """What the defender computes with its own model and data, for defenses that learn state in ``fit``.

    ``member_logits`` / ``non_member_logits`` (together: ``shadow``): a model trained like the target, on data
    it trained on and on data it did not (MemGuard's membership classifier); ``random_input_logits``
    (``random_inputs``): the target's logits on uniformly random inputs (HAMP's reference outputs). Either
    is absent when the audit cannot produce it (no shadow; a predictions table as the target).
    """

    member_logits: np.ndarray | None = None
    non_member_logits: np.ndarray | None = None
    random_input_logits: np.ndarray | None = None

    def missing(self, required: frozenset[str]) -> list[str]:
        """The required inputs (``shadow``, ``random_inputs``) that are absent, in a stable order."""
        present = {
            "shadow": self.member_logits is not None and self.non_member_logits is not None,
            "random_inputs": self.random_input_logits is not None,
        }
        return sorted(name for name in required if not present[name])


class Defense(ABC):
    """Maps a batch of logits ``(n, k)`` to released probability vectors ``(n, k)``.

    Defenses are dataclasses whose fields are their explicit parameters. Attacks only ever see what
    ``apply`` returns, so the same attack code serves every condition.
    """

    name: ClassVar[str]
    deterministic: ClassVar[bool] = False  # True when repeating a query returns the identical answer
    #: True when the answer's randomness is keyed by the query itself: identical repeats return the identical
    #: answer, but a near-duplicate query (an imperceptibly changed input) gets fresh noise.
    keyed_by_query: ClassVar[bool] = False
    #: True when answering runs an iterative search per batch of queries (MemGuard): scoring such a defense
    #: costs many times what a closed-form one does, so parallel scoring starts it first.
    searches_per_answer: ClassVar[bool] = False
    #: True when the released vector's ``argmax`` is always the model's label (a tie the defense makes at the
    #: top is broken for the model's class: :func:`keep_top_unique`).
    preserves_label: ClassVar[bool] = False
    #: Parameter settings compared on the tuning front (one empty dict: the defense has no knob).
    GRID: ClassVar[tuple[dict[str, Any], ...]] = ({},)
    #: What ``fit`` needs from :class:`DefenderData` (``shadow``, ``random_inputs``).
    requires: ClassVar[frozenset[str]] = frozenset()
    #: Parameters that only say how a fitted state's answers are released (MemGuard's distortion budget):
    #: settings that differ in them alone are fitted identically (:attr:`fit_label`).
    RELEASE_ONLY: ClassVar[frozenset[str]] = frozenset()

    def __post_init__(self) -> None:
        """Refuse parameters outside their :func:`parameter` bounds, in one sentence."""
        broken = {
            f.name: f"{f.name} {BOUNDS[bound][1]} {limit:g}"
            for f in fields(self)  # type: ignore[arg-type]
            for bound, limit in f.metadata.items()
            if bound in BOUNDS
            and getattr(self, f.name) is not None
            and not BOUNDS[bound][0](getattr(self, f.name), limit)
        }
        if broken:
            got = ", ".join(f"{name}={getattr(self, name)!r}" for name in broken)
            raise ValueError(f"{type(self).__name__} needs {' and '.join(broken.values())}; got {got}.")

    def fit(self, data: DefenderData, rng: np.random.Generator) -> Self:
        """Learn any state the defense needs from the defender's own outputs; returns ``self``."""
        return self

    @abstractmethod
    def apply(self, logits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Release defended probabilities for ``logits``; fresh randomness is drawn from ``rng``."""

    def summed_answers(self, logits: np.ndarray, rng: np.random.Generator, repeats: int) -> np.ndarray:
        """The sum of ``repeats`` answers to ``logits``, drawn one after another from ``rng`` (what an
        averaging attacker adds up)."""
        return sum(self.apply(logits, rng) for _ in range(repeats))

    def observed_labels(
        self, logits: np.ndarray, rng: np.random.Generator, repeats: int
    ) -> np.ndarray | None:
        """The labels of the mean of ``repeats`` answers to ``logits``, drawing from ``rng`` as those answers
        would, when the defense can tell them without computing the answers; None (the default) otherwise."""
        return None

    @property
    def averaging_gains(self) -> bool:
        """Whether an attacker can average several answers to one record: fresh noise per call, or keyed
        noise that a near-duplicate query refreshes."""
        return not self.deterministic or self.keyed_by_query

    def params(self) -> dict[str, Any]:
        """The explicit parameters (dataclass fields shown in the repr; secrets are hidden)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.repr}  # type: ignore[arg-type]

    @property
    def label(self) -> str:
        """The condition name: the defense with its :data:`GRID` knobs and any non-default parameter, e.g.
        ``memguard(distortion_budget=0.3)``. Distinct parameters give distinct labels."""
        knobs = {key for setting in self.GRID for key in setting}
        defaults = {f.name: f.default for f in fields(self)}  # type: ignore[arg-type]
        shown = ", ".join(
            f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
            for k, v in self.params().items()
            if (k in knobs or v != defaults[k]) and not (v is None and defaults[k] is None)
        )
        return f"{self.name}({shown})" if shown else self.name

    @property
    def fit_label(self) -> str:
        """The label :func:`fit_defense` derives ``fit``'s random draws from: this setting's, with every
        :data:`RELEASE_ONLY` parameter at its default, so that the settings of a grid that differ only in
        those share one fitted state (and MemGuard one search per query)."""
        if not self.RELEASE_ONLY:
            return self.label
        defaults = {f.name: f.default for f in fields(self) if f.name in self.RELEASE_ONLY}  # type: ignore[arg-type]
        return replace(self, **defaults).label  # type: ignore[type-var]


DEFENSES: dict[str, type[Defense]] = {}
D = TypeVar("D", bound=Defense)


def keep_top_unique(released: np.ndarray, top: np.ndarray) -> np.ndarray:
    """``released`` with class ``top[i]`` of row ``i`` raised by one unit in the last place wherever another
    class ties it at the top, so that ``argmax`` reads the model's label (in place). A tie a defense makes
    (rounding [0.4951, 0.5049] to [0.50, 0.50], a random input's [0.5, 0.5]) would otherwise hand the label to
    the first of the tied classes."""
    rows = np.arange(len(released))
    others = released.copy()
    others[rows, top] = -np.inf
    tied = np.flatnonzero(released[rows, top] == others.max(axis=1, initial=-np.inf))
    released[tied, top[tied]] = np.nextafter(released[tied, top[tied]], np.inf)
    return released


def fit_defense(defense: D, data: DefenderData, seed: int) -> D:
    """``defense.fit(data, rng)`` with a Generator derived from the run seed and the defense's
    :attr:`~Defense.fit_label`, so a defense is fitted identically wherever it is used; one sentence if
    ``data`` lacks what it needs."""
    missing = data.missing(defense.requires)
    if missing:
        raise AuditInputError(
            f"The {defense.name} defense needs {' and '.join(m.replace('_', ' ') for m in missing)} from the "
            "defender's side, which this audit lacks."
        )
    return defense.fit(data, derive_rng(seed, "defense-fit", defense.fit_label))


def register_defense(cls: type[Defense]) -> type[Defense]:
    """Class decorator adding a defense to the :data:`DEFENSES` registry under ``cls.name``."""
    DEFENSES[cls.name] = cls
    return cls


@register_defense
@dataclass(frozen=True)
class Undefended(Defense):
    """The model's own softmax output: the baseline condition."""

    name = "undefended"
    deterministic = True
    preserves_label = True

    def apply(self, logits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return softmax(logits)

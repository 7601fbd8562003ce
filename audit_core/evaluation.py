"""Evaluates one condition (a defense, or none): accuracy, and every attack under each attacker knowledge.

Attacker knowledge:

- ``naive``: attacks calibrate on the shadow model's *undefended* outputs, as the DynaNoise paper does.
- ``adaptive``: the shadow's outputs pass through the same defense before calibration.

The target's released outputs are drawn once per condition and shared by both, so only the attacker's
calibration differs.
"""

from dataclasses import dataclass, field

import numpy as np

from audit_core.attacks import ATTACKS, AttackInput, CalibrationData
from audit_core.defenses import Defense, Undefended
from audit_core.metrics import Estimate, balanced_accuracy, max_advantage, proportion, roc_auc
from audit_core.seeding import derive_rng
from audit_core.signals import LogitSet, Signals

KNOWLEDGE = ("naive", "adaptive")


@dataclass(frozen=True)
class AttackOutcome:
    """One attack's result on one condition under one attacker knowledge."""

    attack: str
    knowledge: str
    scores: np.ndarray  # members first, then non-members (Signals order)
    threshold: float
    auc: Estimate
    balanced_accuracy: Estimate
    advantage: float


@dataclass(frozen=True)
class ConditionEvaluation:
    """A condition's test accuracy and its attack outcomes."""

    condition: str
    defense: str
    params: dict[str, float]
    test_accuracy: Estimate
    outcomes: list[AttackOutcome] = field(default_factory=list)

    def outcome(self, attack: str, knowledge: str) -> AttackOutcome:
        """The outcome of ``attack`` under ``knowledge``."""
        return next(o for o in self.outcomes if o.attack == attack and o.knowledge == knowledge)


def _released(defense: Defense, logits: LogitSet, rng: np.random.Generator) -> AttackInput:
    return AttackInput(defense.apply(logits.logits, rng), logits.labels)


def _stack(first: AttackInput, second: AttackInput) -> AttackInput:
    return AttackInput(np.vstack([first.probs, second.probs]), np.concatenate([first.labels, second.labels]))


def evaluate_condition(
    signals: Signals, defense: Defense, attack_names: list[str], *, seed: int
) -> ConditionEvaluation:
    """Release the target's outputs under ``defense`` once, then run every attack in both knowledge modes."""
    rng = derive_rng(seed, "release", defense.label)
    released = _stack(_released(defense, signals.members, rng), _released(defense, signals.non_members, rng))
    test = _released(defense, signals.test, rng)
    is_member = np.r_[np.ones(len(signals.members), bool), np.zeros(len(signals.non_members), bool)]
    calibration_membership = np.r_[
        np.ones(len(signals.shadow_members), bool), np.zeros(len(signals.shadow_non_members), bool)
    ]
    calibration_defenses = {"naive": Undefended(), "adaptive": defense}
    outcomes = []
    for knowledge in KNOWLEDGE:
        calibration_rng = derive_rng(seed, "calibration", knowledge, defense.label)
        calibration_defense = calibration_defenses[knowledge]
        calibration = CalibrationData(
            _stack(
                _released(calibration_defense, signals.shadow_members, calibration_rng),
                _released(calibration_defense, signals.shadow_non_members, calibration_rng),
            ),
            calibration_membership,
        )
        for name in attack_names:
            attack = ATTACKS[name]().fit(calibration)
            scores = attack.score(released)
            outcomes.append(
                AttackOutcome(
                    attack=name,
                    knowledge=knowledge,
                    scores=scores,
                    threshold=attack.threshold_,
                    auc=roc_auc(scores, is_member),
                    balanced_accuracy=balanced_accuracy(scores >= attack.threshold_, is_member),
                    advantage=max_advantage(scores, is_member),
                )
            )
    return ConditionEvaluation(
        condition=defense.label,
        defense=defense.name,
        params=_parameters(defense),
        test_accuracy=proportion(test.probs.argmax(axis=1) == test.labels),
        outcomes=outcomes,
    )


def _parameters(defense: Defense) -> dict[str, float]:
    return {k: float(v) for k, v in vars(defense).items() if isinstance(v, int | float)}

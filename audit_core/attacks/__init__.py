"""Membership-inference attacks behind one registry: ``ATTACKS[name]().fit(calibration).score(outputs)``."""

from audit_core.attacks.base import ATTACKS, Attack, AttackInput, CalibrationData, register_attack
from audit_core.attacks.threshold import (
    ConfidenceAttack,
    EntropyAttack,
    LossAttack,
    ModifiedEntropyAttack,
    ThresholdAttack,
)

__all__ = [
    "ATTACKS",
    "Attack",
    "AttackInput",
    "CalibrationData",
    "ConfidenceAttack",
    "EntropyAttack",
    "LossAttack",
    "ModifiedEntropyAttack",
    "ThresholdAttack",
    "register_attack",
]

"""Membership-inference attacks behind one registry: ``ATTACKS[name](**params).fit(calibration).score(x)``."""

from audit_core.attacks.augmentation import AugmentationAttack
from audit_core.attacks.base import (
    ATTACKS,
    Attack,
    AttackInput,
    CalibrationData,
    ReferenceOutputs,
    ShadowOutputs,
    register_attack,
)
from audit_core.attacks.boundary import BoundaryAttack
from audit_core.attacks.fixed_rules import LabelOnlyAttack, PaperConfidenceAttack, PaperLossAttack
from audit_core.attacks.lira import OfflineLiRA, OnlineLiRA, PaperLiRA, logit_confidence
from audit_core.attacks.qmia import QMIA
from audit_core.attacks.query import QueryAttack
from audit_core.attacks.rmia import RMIA
from audit_core.attacks.shadow import ShadowModelAttack
from audit_core.attacks.threshold import (
    ConfidenceAttack,
    EntropyAttack,
    LossAttack,
    ModifiedEntropyAttack,
    ThresholdAttack,
)

__all__ = [
    "ATTACKS",
    "QMIA",
    "RMIA",
    "Attack",
    "AttackInput",
    "AugmentationAttack",
    "BoundaryAttack",
    "CalibrationData",
    "ConfidenceAttack",
    "EntropyAttack",
    "LabelOnlyAttack",
    "LossAttack",
    "ModifiedEntropyAttack",
    "OfflineLiRA",
    "OnlineLiRA",
    "PaperConfidenceAttack",
    "PaperLiRA",
    "PaperLossAttack",
    "QueryAttack",
    "ReferenceOutputs",
    "ShadowModelAttack",
    "ShadowOutputs",
    "ThresholdAttack",
    "logit_confidence",
    "register_attack",
]

"""Inference-time defenses behind one registry.

``DEFENSES[name](**params).fit(data, rng).apply(logits, rng)`` releases probabilities for logits.

``dynanoise`` is the DynaNoise defense; the others are the baselines it is compared against.
"""

from audit_core.defenses.base import (
    BOUNDS,
    DEFENSES,
    DefenderData,
    Defense,
    Undefended,
    fit_defense,
    parameter,
    register_defense,
)
from audit_core.defenses.dynanoise import NOISE_MODES, PAPER_SETTING, DynaNoise, NoiseMode, sensitivity
from audit_core.defenses.hamp import HampOutput
from audit_core.defenses.keyed_noise import MIN_KEY_BYTES, keyed_normals
from audit_core.defenses.memguard import MemGuard
from audit_core.defenses.reverse_sigmoid import ReverseSigmoid
from audit_core.defenses.static_noise import StaticNoise
from audit_core.defenses.temperature import TemperatureScaling
from audit_core.defenses.truncation import LabelOnly, TopKRounding

__all__ = [
    "BOUNDS",
    "DEFENSES",
    "MIN_KEY_BYTES",
    "NOISE_MODES",
    "PAPER_SETTING",
    "DefenderData",
    "Defense",
    "DynaNoise",
    "HampOutput",
    "LabelOnly",
    "MemGuard",
    "NoiseMode",
    "ReverseSigmoid",
    "StaticNoise",
    "TemperatureScaling",
    "TopKRounding",
    "Undefended",
    "fit_defense",
    "keyed_normals",
    "parameter",
    "register_defense",
    "sensitivity",
]

"""Inference-time defenses behind one registry: ``DEFENSES[name](**params).apply(logits, rng)``."""

from audit_core.defenses.base import DEFENSES, Defense, Undefended, register_defense
from audit_core.defenses.dynanoise import DynaNoise, sensitivity

__all__ = ["DEFENSES", "Defense", "DynaNoise", "Undefended", "register_defense", "sensitivity"]

"""Reverse-sigmoid output perturbation (Lee et al., "Defending against NN model stealing attacks using
deceptive perturbations", IEEE S&P Workshops 2019).

Each probability is pushed against its own confidence and the vector renormalised::

    r_i = beta * (sigmoid(gamma * logit(p_i)) - 1/2)
    q   = max(p - r, 0) / sum(max(p - r, 0))

Large probabilities shrink and small ones grow, so confidence-based attacks lose their signal; a large
``beta`` can reorder classes, so the label is not guaranteed to survive.
"""

from dataclasses import dataclass

import numpy as np
from scipy.special import expit, logit

from audit_core.core.probability import softmax
from audit_core.defenses.base import Defense, parameter, register_defense

_CLIP = 1e-12  # keeps logit(p) finite for p in {0, 1}


@register_defense
@dataclass(frozen=True)
class ReverseSigmoid(Defense):
    """Reverse-sigmoid perturbation (Lee et al. 2019).

    ``beta`` is the magnitude of the perturbation, ``gamma`` the slope of its sigmoid.
    """

    beta: float = parameter(0.5, "Perturbation magnitude.", ge=0)
    gamma: float = parameter(1.0, "Slope of the sigmoid.", gt=0)

    name = "reverse_sigmoid"
    deterministic = True
    GRID = tuple({"beta": b, "gamma": g} for b in (0.2, 0.5, 1.0) for g in (0.1, 1.0))

    def apply(self, logits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        probs = softmax(logits)
        perturbation = self.beta * (expit(self.gamma * logit(np.clip(probs, _CLIP, 1 - _CLIP))) - 0.5)
        released = np.maximum(probs - perturbation, 0.0)
        return released / released.sum(axis=1, keepdims=True)

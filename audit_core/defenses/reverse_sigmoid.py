"""Reverse-sigmoid output perturbation (Lee et al., "Defending against NN model stealing attacks using
deceptive perturbations", IEEE S&P Workshops 2019).

Each probability is pushed against its own confidence and the vector renormalised::

    r_i = beta * (sigmoid(gamma * logit(p_i)) - 1/2)
    q   = max(p - r, 0) / sum(max(p - r, 0))

Large probabilities shrink and small ones grow, so confidence-based attacks lose their signal; a large
``beta`` can reorder classes, so the label is not guaranteed to survive. With ``gamma = 1`` the answer is
``p (1 - beta) + beta / 2``, renormalised: at ``beta = 1`` every class gets 1/2, an answer without a label
(refused).
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
    GRID = tuple({"beta": b, "gamma": g} for b in (0.2, 0.5, 0.9) for g in (0.1, 1.0))

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.beta == 1 and self.gamma == 1:  # sigmoid(logit(p)) = p, so q = p - (p - 1/2) = 1/2
            raise ValueError(
                "ReverseSigmoid with beta=1 and gamma=1 releases 1/2 for every class (the perturbation "
                "cancels each probability), so its answers carry no label but rounding noise; choose beta "
                "below 1 or another gamma"
            )

    def apply(self, logits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        probs = softmax(logits)
        perturbation = self.beta * (expit(self.gamma * logit(np.clip(probs, _CLIP, 1 - _CLIP))) - 0.5)
        released = np.maximum(probs - perturbation, 0.0)
        return released / released.sum(axis=1, keepdims=True)

"""DynaNoise (Forough & Haddadi, PETs 2026): entropy-scaled Gaussian noise on the logits plus smoothing.

For a query with logits ``z`` over ``k`` classes (notes, section 3; artifact ``dyna_noise.py``)::

    p      = softmax(z)
    H      = -sum_i p_i log(p_i + 1e-9)
    R      = 1 - H / log(k + 1e-9)             # 1 = confident = risky
    sigma2 = sigma0_sq * (1 + lam * R)
    z~     = z + eps,  eps ~ N(0, sigma2 I_k)   # one variance per query, fresh noise every call
    output = softmax(z~ / T)
"""

from dataclasses import dataclass

import numpy as np

from audit_core.defenses.base import Defense, register_defense
from audit_core.probability import softmax

_EPS = 1e-9  # the constant the reference implementation adds inside both logarithms


def sensitivity(logits: np.ndarray) -> np.ndarray:
    """The per-query risk score ``R(q) = 1 - H(softmax(z)) / log k`` (about 1 for confident outputs)."""
    probs = softmax(logits)
    n_classes = probs.shape[1]
    entropy = -(probs * np.log(probs + _EPS)).sum(axis=1)
    return 1.0 - entropy / np.log(n_classes + _EPS)


@register_defense
@dataclass(frozen=True)
class DynaNoise(Defense):
    """The DynaNoise defense with the paper's CIFAR-10 parameters as defaults.

    >>> import numpy as np
    >>> probs = DynaNoise().apply(np.array([[4.0, 0.0, -1.0]]), np.random.default_rng(0))
    >>> bool(np.isclose(probs.sum(), 1.0))
    True
    """

    sigma0_sq: float = 0.3
    lam: float = 2.0
    temperature: float = 10.0

    name = "dynanoise"

    def __post_init__(self) -> None:
        if self.sigma0_sq < 0 or self.lam < 0 or self.temperature <= 0:
            raise ValueError(
                f"DynaNoise needs sigma0_sq >= 0, lam >= 0 and temperature > 0; got {self.sigma0_sq}, "
                f"{self.lam}, {self.temperature}."
            )

    @property
    def label(self) -> str:
        return f"dynanoise(sigma0_sq={self.sigma0_sq:g}, lam={self.lam:g}, T={self.temperature:g})"

    def noise_variance(self, logits: np.ndarray) -> np.ndarray:
        """``sigma^2(q) = sigma0_sq * (1 + lam * R(q))`` for each query."""
        return self.sigma0_sq * (1.0 + self.lam * sensitivity(logits))

    def apply(self, logits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        logits = np.asarray(logits, dtype=np.float64)
        std = np.sqrt(self.noise_variance(logits))[:, None]
        noisy = logits + std * rng.standard_normal(logits.shape)
        return softmax(noisy, temperature=self.temperature)

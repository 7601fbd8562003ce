"""DynaNoise (Forough & Haddadi, PETs 2026): entropy-scaled Gaussian noise on the logits plus smoothing.

For a query with logits ``z`` over ``k`` classes (notes, section 3; artifact ``dyna_noise.py``)::

    p      = softmax(z)
    H      = -sum_i p_i log(p_i + 1e-9)
    R      = 1 - H / log(k + 1e-9)             # 1 = confident = risky
    sigma2 = sigma0_sq * (1 + lam * R)
    z~_m   = z + eps_m,  eps_m ~ N(0, sigma2 I_k),  m = 1..M
    output = mean_m softmax(z~_m / T)          # M = ensemble_size; the paper runs M = 1

``noise_mode="per_query"`` draws fresh noise on every call (the paper). ``"per_input"`` derives the noise
from a secret-keyed hash of the query's logits (:mod:`audit_core.defenses.keyed_noise`), so a repeated query
gets the identical answer and averaging repeated queries gains the attacker nothing.
"""

from dataclasses import dataclass, field
from typing import Literal, get_args

import numpy as np

from audit_core.core.probability import softmax
from audit_core.defenses.base import Defense, parameter, register_defense
from audit_core.defenses.keyed_noise import keyed_normals

ENTROPY_EPS = 1e-9  # the constant the reference implementation adds inside both logarithms
NoiseMode = Literal["per_query", "per_input"]
NOISE_MODES: tuple[str, ...] = get_args(NoiseMode)
#: The paper's best CIFAR-10 setting (notes, section 3): DynaNoise's defaults, and the demo's DynaNoise.
PAPER_SETTING = {"sigma0_sq": 0.3, "lam": 2.0, "temperature": 10.0}


def sensitivity(logits: np.ndarray) -> np.ndarray:
    """The per-query risk score ``R(q) = 1 - H(softmax(z)) / log k`` (about 1 for confident outputs)."""
    probs = softmax(logits)
    n_classes = probs.shape[1]
    entropy = -(probs * np.log(probs + ENTROPY_EPS)).sum(axis=1)
    return 1.0 - entropy / np.log(n_classes + ENTROPY_EPS)


@register_defense
@dataclass(frozen=True)
class DynaNoise(Defense):
    """DynaNoise parameters; the defaults are the paper's best CIFAR-10 setting.

    The defaults are :data:`PAPER_SETTING`. ``key`` (at least 16 secret bytes) is needed only for
    ``noise_mode="per_input"``.

    >>> import numpy as np
    >>> probs = DynaNoise().apply(np.array([[4.0, 0.0, -1.0]]), np.random.default_rng(0))
    >>> bool(np.isclose(probs.sum(), 1.0))
    True
    """

    sigma0_sq: float = parameter(PAPER_SETTING["sigma0_sq"], "Base noise variance on the logits.", ge=0)
    lam: float = parameter(PAPER_SETTING["lam"], "How much the noise grows with prediction confidence.", ge=0)
    temperature: float = parameter(
        PAPER_SETTING["temperature"], "Softmax temperature of the released output.", gt=0
    )
    noise_mode: NoiseMode = parameter(  # noqa: RUF009 (a dataclass field, like the others)
        "per_query",
        "per_query: fresh noise on every call (the paper); per_input: noise keyed by the query, so repeating "
        "a query returns the same answer.",
    )
    ensemble_size: int = parameter(1, "Noisy softmax draws averaged per answer.", ge=1, le=1000)
    key: bytes = field(default=b"", repr=False)

    name = "dynanoise"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.noise_mode not in NOISE_MODES:
            raise ValueError(f"DynaNoise noise_mode must be one of {NOISE_MODES}; got {self.noise_mode!r}.")
        if self.noise_mode == "per_input":
            keyed_normals(np.zeros((0, 1)), self.key, 1)  # rejects a missing or short key now, not per call

    @property
    def deterministic(self) -> bool:  # type: ignore[override]
        """per_input answers repeat exactly, as do answers without noise (``sigma0_sq = 0``: ``softmax(z /
        T)``, which the tuner may choose), so averaging identical repeats gains nothing."""
        return self.noise_mode == "per_input" or self.sigma0_sq == 0

    @property
    def keyed_by_query(self) -> bool:  # type: ignore[override]
        """per_input noise is keyed by the query's exact logits: a near-duplicate query gets fresh noise (a
        setting without noise has none to refresh)."""
        return self.noise_mode == "per_input" and self.sigma0_sq > 0

    @property
    def label(self) -> str:
        extras = "" if self.noise_mode == "per_query" else f", {self.noise_mode}"
        extras += "" if self.ensemble_size == 1 else f", M={self.ensemble_size}"
        return f"dynanoise(sigma0_sq={self.sigma0_sq:g}, lam={self.lam:g}, T={self.temperature:g}{extras})"

    def noise_variance(self, logits: np.ndarray) -> np.ndarray:
        """``sigma^2(q) = sigma0_sq * (1 + lam * R(q))`` for each query."""
        return self.sigma0_sq * (1.0 + self.lam * sensitivity(logits))

    def standard_noise(self, logits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Unit-variance noise ``(n, M, k)``: fresh from ``rng`` (per_query) or keyed by the logits."""
        n, k = logits.shape
        if self.noise_mode == "per_input":
            return keyed_normals(logits, self.key, self.ensemble_size * k).reshape(n, self.ensemble_size, k)
        return rng.standard_normal((n, self.ensemble_size, k))

    def apply(self, logits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        logits = np.asarray(logits, dtype=np.float64)
        return self._answer(logits, self._noise_scale(logits), rng)

    def summed_answers(self, logits: np.ndarray, rng: np.random.Generator, repeats: int) -> np.ndarray:
        """The sum of ``repeats`` answers, each as :meth:`apply` gives it; the noise's scale, which depends
        on the logits alone, is computed once."""
        logits = np.asarray(logits, dtype=np.float64)
        scale = self._noise_scale(logits)
        return sum(self._answer(logits, scale, rng) for _ in range(repeats))

    def _noise_scale(self, logits: np.ndarray) -> np.ndarray:
        """``sigma(q)`` per query, shaped ``(n, 1, 1)`` against the noise ``(n, M, k)``."""
        return np.sqrt(self.noise_variance(logits))[:, None, None]

    def _answer(self, logits: np.ndarray, std: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        noisy = logits[:, None, :] + std * self.standard_noise(logits, rng)
        released = softmax(noisy.reshape(-1, logits.shape[1]), temperature=self.temperature)
        if self.ensemble_size == 1:
            return released  # the mean of one draw, bit for bit
        return released.reshape(noisy.shape).mean(axis=1)

"""Temperature scaling alone: DynaNoise's smoothing step without its noise."""

from dataclasses import dataclass

import numpy as np

from audit_core.core.probability import softmax
from audit_core.defenses.base import Defense, register_defense


@register_defense
@dataclass(frozen=True)
class TemperatureScaling(Defense):
    """``softmax(z / T)``: flatter outputs for ``T > 1``, same ranking, no randomness."""

    temperature: float = 10.0

    name = "temperature"
    deterministic = True
    preserves_label = True
    GRID = tuple({"temperature": t} for t in (2.0, 5.0, 10.0, 20.0, 50.0))

    def __post_init__(self) -> None:
        if self.temperature <= 0:
            raise ValueError(f"TemperatureScaling needs temperature > 0; got {self.temperature}.")

    def apply(self, logits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return softmax(logits, temperature=self.temperature)

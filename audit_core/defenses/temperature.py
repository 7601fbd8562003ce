"""Temperature scaling alone: DynaNoise's smoothing step without its noise."""

from dataclasses import dataclass

import numpy as np

from audit_core.core.probability import softmax
from audit_core.defenses.base import Defense, parameter, register_defense


@register_defense
@dataclass(frozen=True)
class TemperatureScaling(Defense):
    """Temperature scaling only: softmax(z / T).

    Flatter outputs for ``T > 1``, same ranking, no randomness.
    """

    temperature: float = parameter(10.0, "Softmax temperature of the released output.", gt=0)

    name = "temperature"
    deterministic = True
    preserves_label = True
    GRID = tuple({"temperature": t} for t in (2.0, 5.0, 10.0, 20.0, 50.0))

    def apply(self, logits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return softmax(logits, temperature=self.temperature)

"""What an attacker who undoes a known temperature takes back: the demo's tempered conditions, as released
and after ``T * log(p)``.

    .venv/bin/python benchmarks/temperature_undone.py      # the demo's models from .dynaudit-cache if there

DynaNoise releases ``softmax((z + noise) / T)`` (the paper's ensemble of one) and the ``temperature``
baseline ``softmax(z / T)``; ``T * log(p)`` undoes both, giving back the noisy logits (the logits) up to a
constant. The attacks read the released probabilities as they are. Printed: on the demo's evaluation split,
each tempered condition's strongest attack under the adaptive attacker, as released and when every answer
the attacker sees (the target's and the references', calibrated alike) is ``softmax(T * log(p))`` instead.
The temperature baseline undone reads the undefended AUC; what remains of a reduction after undoing is the
noise's. An undone condition draws its own noise (its name, which seeds the draws, differs): per-query noise
moves its AUC by a few thousandths from draw to draw.
"""

import argparse
from dataclasses import dataclass, fields

import numpy as np
import torch

from audit_core.audit.analysis import worst_case
from audit_core.audit.run import PLAIN, gather_inputs
from audit_core.audit.signals import Signals
from audit_core.config import DEMO_SETTINGS, AuditConfig, parse_config
from audit_core.core.knowledge import Knowledge
from audit_core.core.probability import softmax
from audit_core.defenses import Defense, DynaNoise, Undefended
from audit_core.defenses.temperature import TemperatureScaling
from audit_core.tuning.search import Attacker


def undone(released: np.ndarray, temperature: float) -> np.ndarray:
    """What an attacker who knows ``temperature`` sees: ``softmax(T * log(p))``."""
    return softmax(np.log(released) * temperature)


@dataclass(frozen=True)
class UndoneDynaNoise(DynaNoise):
    """DynaNoise as seen after undoing its temperature (a distinct label: nothing cached is shared)."""

    def _answer(self, logits: np.ndarray, std: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return undone(super()._answer(logits, std, rng), self.temperature)

    @property
    def label(self) -> str:
        return f"undone {super().label}"


@dataclass(frozen=True)
class UndoneTemperature(TemperatureScaling):
    """The temperature baseline as seen after undoing it."""

    def apply(self, logits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return undone(super().apply(logits, rng), self.temperature)

    @property
    def label(self) -> str:
        return f"undone {super().label}"


def undone_twin(defense: Defense) -> Defense:
    """``defense`` (DynaNoise or the temperature baseline) as seen after undoing its temperature."""
    twin = UndoneDynaNoise if isinstance(defense, DynaNoise) else UndoneTemperature
    return twin(**{f.name: getattr(defense, f.name) for f in fields(defense)})


def strongest_adaptive(signals: Signals, defense: Defense, config: AuditConfig) -> str:
    """The strongest attack's AUC under the adaptive attacker (as the tuner scores it), with its name."""
    attacker = Attacker(
        tuple(config.attacks), Knowledge.ADAPTIVE, config.seed, config.max_queries, config.attack_params
    )
    evaluation = attacker.evaluate(signals, defense)
    strongest = worst_case([evaluation.outcome(a, Knowledge.ADAPTIVE) for a in evaluation.attacks])
    return f"{strongest.auc.value:.3f} ({strongest.attack})"


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    torch.set_num_threads(1)
    config = parse_config(DEMO_SETTINGS)
    inputs = gather_inputs(config)
    tuning_part, evaluation = PLAIN.split(config, inputs.signals)
    tuned = PLAIN.tune(config, tuning_part, evaluation, inputs.defender).chosen
    conditions = {
        "dynanoise@paper": DynaNoise(),
        "dynanoise@tuned": tuned,
        "temperature(temperature=10)": TemperatureScaling(temperature=10.0),
    }
    print(f"undefended: {strongest_adaptive(evaluation, Undefended(), config)}; tuned: {tuned.label}\n")
    print("| condition | strongest adaptive AUC, as released | after T * log(p) |\n|---|---|---|")
    for name, defense in conditions.items():
        cells = [strongest_adaptive(evaluation, d, config) for d in (defense, undone_twin(defense))]
        print(f"| {name} | {cells[0]} | {cells[1]} |", flush=True)


if __name__ == "__main__":
    main()

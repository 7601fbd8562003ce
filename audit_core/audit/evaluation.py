"""Scores one condition (a defense, or none): the released test answers, and every attack's scores under each
attacker knowledge; :mod:`audit_core.audit.analysis` turns the scores into metrics.

Attacker knowledge (what the attacker calibrates on, and how it queries):

- ``naive``: shadow and reference outputs are *undefended*, as in the DynaNoise paper's protocol.
- ``adaptive``: shadow and reference outputs pass through the same defense before calibration.
- ``averaging``: adaptive, and the attacker asks every query ``k`` times and averages the released
  outputs (targets and references alike), for ``k`` doubling up to ``max_queries``. Against noise keyed by
  the query (DynaNoise ``per_input``) identical repeats return one answer, so this attacker sends
  near-duplicates instead: the record's logits moved by a few units in the last place, standing in for an
  imperceptible change to the input (one pixel level, the last digit of a feature).

The target's single-query answers are drawn once per condition and shared by ``naive`` and ``adaptive``.
"""

from collections.abc import Sequence
from typing import Any

import numpy as np

from audit_core.attacks import ATTACKS, AttackInput, CalibrationData, ReferenceOutputs, ShadowOutputs
from audit_core.audit.analysis import AttackScores, ConditionScores
from audit_core.audit.signals import Signals
from audit_core.core.knowledge import Knowledge
from audit_core.core.seeding import derive_rng
from audit_core.defenses import Defense, Undefended


def near_duplicate(logits: np.ndarray, step: int) -> np.ndarray:
    """``logits`` with every entry moved ``step`` units in the last place: what an imperceptibly changed
    input yields (``step=0`` is the query itself)."""
    return logits + step * np.spacing(logits)


def observe(defense: Defense, logits: np.ndarray, rng: np.random.Generator, queries: int = 1) -> np.ndarray:
    """What an attacker sees for ``logits`` of any leading shape ``(..., k)``: the mean of ``queries``
    released answers. Repeats of the query when the defense draws fresh noise per call; near-duplicates when
    its noise is keyed by the query; one answer when the defense is a fixed function of the logits."""
    flat = logits.reshape(-1, logits.shape[-1])
    repeats = queries if defense.averaging_gains else 1
    queried = (near_duplicate(flat, r) if defense.keyed_by_query else flat for r in range(repeats))
    mean = sum(defense.apply(q, rng) for q in queried) / repeats
    return mean.reshape(logits.shape)


def doubling_schedule(max_queries: int) -> list[int]:
    """1, 2, 4, ... up to ``max_queries`` (which is included even if not a power of two)."""
    schedule = [1]
    while schedule[-1] * 2 <= max_queries:
        schedule.append(schedule[-1] * 2)
    return schedule if schedule[-1] == max_queries else [*schedule, max_queries]


def calibration_data(
    signals: Signals,
    defense: Defense,
    rng: np.random.Generator,
    queries: int,
    target_population: AttackInput | None,
) -> CalibrationData:
    """The attacker's calibration data with shadow/reference outputs released through ``defense``."""
    shadow = None
    if signals.has_shadow:
        shadow = ShadowOutputs(
            AttackInput(
                np.vstack(
                    [
                        observe(defense, signals.shadow_members.logits, rng, queries),
                        observe(defense, signals.shadow_non_members.logits, rng, queries),
                    ]
                ),
                np.concatenate([signals.shadow_members.labels, signals.shadow_non_members.labels]),
            ),
            np.r_[
                np.ones(len(signals.shadow_members), bool), np.zeros(len(signals.shadow_non_members), bool)
            ],
        )
    references = None
    if signals.references is not None:
        refs = signals.references
        references = ReferenceOutputs(
            audit=observe(defense, refs.audit, rng, queries),
            labels=signals.audit_labels,
            in_mask=refs.in_mask,
            population=observe(defense, refs.population, rng, queries),
            population_labels=refs.population_labels,
        )
    return CalibrationData(shadow=shadow, references=references, target_population=target_population)


def _population_answers(
    defense: Defense, signals: Signals, rng: np.random.Generator, queries: int
) -> AttackInput | None:
    """The target's released answers on the population points, if it answers for them."""
    if signals.population is None:
        return None
    return AttackInput(observe(defense, signals.population.logits, rng, queries), signals.population.labels)


def score_condition(
    signals: Signals,
    defense: Defense,
    attack_names: Sequence[str],
    *,
    seed: int,
    knowledge: Sequence[str] = tuple(Knowledge),
    max_queries: int = 64,
    attack_params: dict[str, dict[str, Any]] | None = None,
) -> ConditionScores:
    """Every attack's scores against ``defense`` under each requested attacker knowledge (no metric: see
    :mod:`audit_core.audit.analysis`)."""
    attack_params = attack_params or {}
    audit_logits = np.vstack([signals.members.logits, signals.non_members.logits])
    labels = signals.audit_labels
    release_rng = derive_rng(seed, "release", defense.label)
    single_answers = AttackInput(observe(defense, audit_logits, release_rng), labels)
    single_population = _population_answers(defense, signals, release_rng, 1)
    test = AttackInput(observe(defense, signals.test.logits, release_rng), signals.test.labels)

    scores: list[AttackScores] = []
    averaging: list[AttackScores] = []
    skipped: dict[str, str] = {}
    schedule = doubling_schedule(max_queries if defense.averaging_gains else 1)
    for mode in knowledge:
        rng = derive_rng(seed, "attacker", mode, defense.label)
        for queries in schedule if mode == "averaging" else [1]:
            if queries == 1:
                answers, population = single_answers, single_population
            else:
                answers = AttackInput(observe(defense, audit_logits, rng, queries), labels)
                population = _population_answers(defense, signals, rng, queries)
            calibration_defense = Undefended() if mode == "naive" else defense
            calibration = calibration_data(signals, calibration_defense, rng, queries, population)
            for name in attack_names:
                attack_class = ATTACKS[name]
                missing = calibration.missing(attack_class.requires)
                if missing:
                    skipped[name] = (
                        f"needs {' and '.join(m.replace('_', ' ') for m in missing)}, which this audit lacks"
                    )
                    continue
                attack = attack_class(**attack_params.get(name, {})).fit(calibration)
                result = AttackScores(
                    defense.label, mode, name, queries, attack.score(answers), float(attack.threshold_)
                )
                if mode == "averaging":
                    averaging.append(result)
                    if queries != schedule[-1]:
                        continue
                scores.append(result)
    return ConditionScores(
        condition=defense.label,
        defense=defense.name,
        params=_parameters(defense),
        is_member=signals.is_member,
        labels=labels,
        test_correct=test.probs.argmax(axis=1) == test.labels,
        scores=scores,
        averaging=averaging,
        skipped=skipped,
    )


def _parameters(defense: Defense) -> dict[str, float]:
    return {k: float(v) for k, v in vars(defense).items() if isinstance(v, int | float)}

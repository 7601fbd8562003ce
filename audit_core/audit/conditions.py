"""The audited conditions: the defender's own data, the undefended model and each defense, fitted."""

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np

from audit_core.audit.analysis import ConditionEvaluation, analyse_condition
from audit_core.audit.evaluation import score_condition
from audit_core.audit.signals import (
    Signals,
)
from audit_core.config import AuditConfig
from audit_core.core.forked import forked_map
from audit_core.core.knowledge import Knowledge
from audit_core.core.records import random_records, readable
from audit_core.core.seeding import derive_rng
from audit_core.data import AuditData, Split
from audit_core.defenses import DefenderData, Defense, DynaNoise, Undefended, fit_defense
from audit_core.targets import ModelTarget, Target

RANDOM_INPUTS = 1000  # queries of the target on random inputs, for HAMP's reference outputs


def random_inputs_possible(config: AuditConfig, data: AuditData) -> bool:
    """Whether the target answers random records like the population's (a model of readable records)."""
    return config.target.kind != "predictions" and readable(data.population.features)


def defender_data(config: AuditConfig, target: Target, data: AuditData, signals: Signals) -> DefenderData:
    """What the defender computes with its own model: the shadow's outputs on its in/out records (standing
    in for a model the defender trains like the target) and the target's logits on random records like the
    population's (:func:`~audit_core.core.records.random_records`: numbers uniformly in their range, whole
    ones for a target that takes whole numbers, a table's other values among its column's); each absent
    where impossible."""
    random_logits = None
    if random_inputs_possible(config, data):
        rng = derive_rng(config.seed, "random-inputs")
        whole = isinstance(target, ModelTarget) and target.integer_inputs
        random_inputs = random_records(data.population.features, RANDOM_INPUTS, rng, whole=whole)
        ids = np.array([f"random:{i}" for i in range(RANDOM_INPUTS)])
        random_logits = target.query(Split(random_inputs, np.zeros(RANDOM_INPUTS, dtype=np.int64), ids))
    return DefenderData(
        member_logits=signals.shadow_members.logits if signals.has_shadow else None,
        non_member_logits=signals.shadow_non_members.logits if signals.has_shadow else None,
        random_input_logits=random_logits,
    )


def conditions(config: AuditConfig, defender: DefenderData, tuned: DynaNoise | None = None) -> list[Defense]:
    """The undefended baseline, each configured defense and the tuned DynaNoise (if any), all fitted."""
    defenses = [Undefended(), *(d.defense(config.seed) for d in config.defenses)]
    if tuned is not None and tuned.label not in {d.label for d in defenses}:
        defenses.append(tuned)  # a tuned setting with a configured label is that condition already
    return [fit_defense(d, defender, config.seed) for d in defenses]


def evaluate_conditions(
    config: AuditConfig,
    signals: Signals,
    defenses: Sequence[Defense],
    on_done: Callable[[int, int], None] | None = None,
) -> list[ConditionEvaluation]:
    """:func:`evaluate` each condition, in worker processes forked from this one where the machine has the
    cores (:func:`~audit_core.core.forked.forked_map`: the same numbers as one after another here);
    ``on_done(done, total)`` reports each condition evaluated."""
    averaging = Knowledge.AVERAGING in config.knowledge

    def costly(defense: Defense) -> bool:  # a search per answer, or answers averaged over every repeat
        return defense.searches_per_answer or (averaging and defense.averaging_gains)

    with forked_map(partial(evaluate, config, signals), defenses, costly=costly) as results:
        return results(on_done=on_done)


def evaluate(config: AuditConfig, signals: Signals, defense: Defense) -> ConditionEvaluation:
    """Run the configured attacks against one condition under every configured attacker knowledge."""
    return evaluate_condition(
        signals,
        defense,
        config.attacks,
        seed=config.seed,
        knowledge=config.knowledge,
        max_queries=config.max_queries,
        attack_params=config.attack_params,
    )


def evaluate_condition(
    signals: Signals, defense: Defense, attack_names: Sequence[str], *, seed: int, **options: Any
) -> ConditionEvaluation:
    """Score ``defense`` (:func:`~audit_core.audit.evaluation.score_condition`, with its keyword ``options``),
    then analyse the scores with every interval."""
    scores = score_condition(signals, defense, attack_names, seed=seed, **options)
    return analyse_condition(scores, seed=seed)

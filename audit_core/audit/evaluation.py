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
Label-only query attacks query the target around each audit record through the condition's defense (every
answer observed as above, so the averaging attacker averages them too), and the shadow models the same way
(undefended for the naive attacker).
"""

from collections.abc import Sequence
from dataclasses import replace
from functools import partial
from typing import Any

import numpy as np

from audit_core.attacks import ATTACKS, AttackInput, CalibrationData, ReferenceOutputs, ShadowOutputs
from audit_core.attacks.base import Ask, Attack
from audit_core.audit.analysis import AttackScores, ConditionScores
from audit_core.audit.query_memo import MAX_BYTES as QUERY_MEMO_BYTES
from audit_core.audit.query_memo import QueryMemo
from audit_core.audit.running_sums import MAX_BYTES, RunningSums
from audit_core.audit.signals import Signals, stacked_features
from audit_core.audit.undefended_fits import CONDITION_INPUTS, UndefendedFits
from audit_core.core.knowledge import Knowledge
from audit_core.core.records import movable
from audit_core.core.seeding import derive_rng
from audit_core.defenses import Defense, Undefended
from audit_core.defenses.keyed_noise import asked_once
from audit_core.targets import ModelTarget

#: What each calibration input an attack may require is, for the sentence that says why it was skipped.
REQUIREMENTS = {
    "shadow": "shadow outputs",
    "references": "reference models",
    "target_population": "the target's outputs on population records",
    "population_features": "the target's outputs on population records of numbers or of a table's fields",
    "shadow_queries": "a target and a shadow model it can query around each record (not a predictions table)",
    "number_fields": "number fields to move along around each record (these records have none)",
}


def requirement(name: str, signals: Signals) -> str:
    """What the calibration input ``name`` is, for the sentence that says why an attack was skipped; for
    query access, which part of it this audit lacks."""
    if name != "shadow_queries":
        return REQUIREMENTS[name]
    if signals.audit_features is None or not movable(signals.audit_features):
        return "number fields or texts of words to perturb around each record (these records have neither)"
    if signals.integer_inputs:
        return "a target that takes numbers it can move around each record (this one takes whole numbers)"
    if signals.query_models is None:
        return (
            "a target it can query around each record (a predictions table answers for its own records only)"
        )
    if not signals.query_models.shadows:
        return "a shadow model it can query around each record (a model, not shadow.kind none or predictions)"
    return REQUIREMENTS[name]


#: The averaging attacker's sums of answers to near-duplicates, continued along its doubling schedule.
RUNNING_SUMS = RunningSums(MAX_BYTES)
#: Attacks calibrated on undefended outputs (the naive attacker's): fitted once per Signals, every condition.
UNDEFENDED_FITS = UndefendedFits()
#: The models' logits on the query attacks' repeated batches of queries.
QUERY_MEMO = QueryMemo(QUERY_MEMO_BYTES)
#: Label-only query attacks fitted and scored on the models' own labels, once per Signals: what they read
#: through every defense that keeps each label and answers alike each time (:func:`reads_model_labels`).
MODEL_LABEL_SCORES = UndefendedFits()


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
    if defense.keyed_by_query and repeats > 1:  # each row's sum of fewer near-duplicates is continued

        def answer(step: int, rows: np.ndarray) -> np.ndarray:
            if step == 0:
                return defense.apply(flat[rows], rng)
            with asked_once():  # a near-duplicate is asked once: its running sum is kept instead
                return defense.apply(near_duplicate(flat[rows], step), rng)

        total = RUNNING_SUMS.total(defense, flat, repeats, answer)
    else:
        total = defense.summed_answers(flat, rng, repeats)
    return (total / repeats).reshape(logits.shape)


def observe_labels(
    defense: Defense, logits: np.ndarray, rng: np.random.Generator, queries: int = 1
) -> np.ndarray:
    """The labels ``(...)`` of what :func:`observe` shows for ``logits`` ``(..., k)``: what a label-only
    attacker reads. A defense that can tell them without computing its answers (MemGuard keeps every label)
    does so, drawing from ``rng`` as its answers would."""
    repeats = queries if defense.averaging_gains else 1
    flat = logits.reshape(-1, logits.shape[-1])
    labels = defense.observed_labels(flat, rng, repeats)
    if labels is None:
        return observe(defense, logits, rng, queries).argmax(axis=-1)
    return labels.reshape(logits.shape[:-1])


def answering(
    models: Sequence[ModelTarget],
    owner: np.ndarray,
    defense: Defense,
    rng: np.random.Generator,
    queries: int = 1,
) -> Ask:
    """Label-only query access through ``defense``: record ``i``'s queries go to ``models[owner[i]]``, and
    each answer's label is observed as :func:`observe_labels` does (``queries`` answers averaged where that
    gains the attacker)."""

    def ask(rows: np.ndarray, inputs: np.ndarray, fixed: bool = False) -> np.ndarray:
        batch, per_record, record_shape = len(rows), inputs.shape[1], inputs.shape[2:]
        logits = [None] * batch
        for m in np.unique(owner[rows]):
            picked = np.flatnonzero(owner[rows] == m)
            sent = inputs[picked].reshape(-1, *record_shape)
            answers = QUERY_MEMO.logits(models[m], sent) if fixed else models[m].logits(sent)
            for i, block in zip(picked, answers.reshape(len(picked), per_record, -1), strict=True):
                logits[i] = block
        return observe_labels(defense, np.stack(logits), rng, queries)

    return ask


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
    """The attacker's calibration data with shadow/reference outputs released through ``defense`` (and query
    access to the shadow models through it, when the target and the shadow models answer queries)."""
    shadow = None
    if signals.has_shadow:
        members, non_members = signals.shadow_members, signals.shadow_non_members
        features = stacked_features(members, non_members)
        models = signals.query_models
        ask = None
        if models is not None and models.shadows and features is not None:
            per_model = [len(members) // len(models.shadows), len(non_members) // len(models.shadows)]
            owner = np.concatenate([np.repeat(np.arange(len(models.shadows)), n) for n in per_model])
            ask = answering(models.shadows, owner, defense, rng, queries)
        shadow = ShadowOutputs(
            AttackInput(
                np.vstack(
                    [
                        observe(defense, members.logits, rng, queries),
                        observe(defense, non_members.logits, rng, queries),
                    ]
                ),
                np.concatenate([members.labels, non_members.labels]),
                features if ask is not None else None,
                ask,
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


def population_answers(
    defense: Defense, signals: Signals, rng: np.random.Generator, queries: int
) -> AttackInput | None:
    """The target's released answers on the population points, if it answers for them."""
    if signals.population is None:
        return None
    population = signals.population
    return AttackInput(
        observe(defense, population.logits, rng, queries), population.labels, population.features
    )


def audit_answers(
    defense: Defense, signals: Signals, logits: np.ndarray, rng: np.random.Generator, queries: int
) -> AttackInput:
    """The target's released answers on the audit points, with their features and query access to the
    target through ``defense`` where it answers queries."""
    features = signals.audit_features
    ask = None
    if signals.query_models is not None and features is not None:
        ask = answering([signals.query_models.target], np.zeros(len(logits), int), defense, rng, queries)
    return AttackInput(observe(defense, logits, rng, queries), signals.audit_labels, features, ask)


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
    single_answers = audit_answers(defense, signals, audit_logits, release_rng, 1)
    single_population = population_answers(defense, signals, release_rng, 1)
    test = AttackInput(observe(defense, signals.test.logits, release_rng), signals.test.labels)

    scores: list[AttackScores] = []
    averaging: list[AttackScores] = []
    skipped: dict[str, str] = {}
    fitted: dict[tuple[str, tuple[int, ...]], tuple[Attack, tuple]] = {}  # e.g. qmia: one population, 3 modes
    schedule = doubling_schedule(max_queries if defense.averaging_gains else 1)
    # A defense whose every answer is a fixed function of the logits draws nothing that changes an answer: two
    # attacker knowledges calibrated alike (the adaptive attacker and the averaging one, who asks once; every
    # knowledge of the undefended model) score alike, so the first one's scores serve the others.
    fixed_answers = not defense.averaging_gains
    by_calibration: dict[bool, list[AttackScores]] = {}  # by whether the calibration is undefended
    for mode in knowledge:
        rng = derive_rng(seed, "attacker", mode, defense.label)
        for queries in schedule if mode == "averaging" else [1]:
            calibration_defense = Undefended() if mode == "naive" else defense
            undefended_calibration = isinstance(calibration_defense, Undefended)
            if fixed_answers and undefended_calibration in by_calibration:
                for earlier in by_calibration[undefended_calibration]:
                    result = replace(
                        earlier, knowledge=mode, scores=earlier.scores.copy(), chosen=dict(earlier.chosen)
                    )
                    scores.append(result)
                    if mode == "averaging":
                        averaging.append(result)
                continue
            results = by_calibration.setdefault(undefended_calibration, []) if fixed_answers else []
            if queries == 1:
                answers, population = single_answers, single_population
            else:
                answers = audit_answers(defense, signals, audit_logits, rng, queries)
                population = population_answers(defense, signals, rng, queries)
            calibration = calibration_data(signals, calibration_defense, rng, queries, population)
            for name in attack_names:
                attack_class = ATTACKS[name]
                missing = calibration.missing(attack_class.requires)
                if missing:
                    needs = " and ".join(requirement(m, signals) for m in missing)
                    skipped[name] = f"needs {needs}, which this audit lacks"
                    continue
                params = attack_params.get(name, {})
                key_name = f"{name} {sorted(params.items())!r}"
                if reads_model_labels(attack_class, defense):
                    scored = partial(
                        _scored_on_model_labels, signals, attack_class, params, key_name, audit_logits
                    )
                    attack, statistic = MODEL_LABEL_SCORES.fitted(signals, key_name, scored)
                    statistic = statistic.copy()
                else:
                    fit = partial(_fitted, attack_class, params, calibration)
                    if undefended_calibration and not attack_class.requires & CONDITION_INPUTS:
                        attack = UNDEFENDED_FITS.fitted(signals, key_name, fit)
                    else:  # an attack reads only the inputs it requires: on the same ones, fitted once
                        inputs = tuple(getattr(calibration, r) for r in sorted(attack_class.requires))
                        key = (name, tuple(map(id, inputs)))
                        if key not in fitted:
                            fitted[key] = (fit(), inputs)  # the inputs kept alive, so their ids stay theirs
                        attack = fitted[key][0]
                    statistic = attack.score(answers)
                result = AttackScores(
                    defense.label, mode, name, queries, statistic, float(attack.threshold_), attack.chosen()
                )
                results.append(result)
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


def _fitted(attack_class: type[Attack], params: dict[str, Any], calibration: CalibrationData) -> Attack:
    return attack_class(**params).fit(calibration)


def reads_model_labels(attack_class: type[Attack], defense: Defense) -> bool:
    """Whether ``attack_class`` reads through ``defense`` exactly what it reads from the undefended models: a
    label-only query attack (its queries, and the shadow's it calibrates on, answered by their labels alone)
    against a defense that releases each query's own label (:attr:`~Defense.preserves_label`) and draws
    nothing for it (not :attr:`~Defense.averaging_gains`): temperature, top-k, the label alone."""
    return (
        attack_class.reads_labels_only
        and "shadow_queries" in attack_class.requires
        and defense.preserves_label
        and not defense.averaging_gains
    )


def _scored_on_model_labels(
    signals: Signals, attack_class: type[Attack], params: dict[str, Any], key: str, audit_logits: np.ndarray
) -> tuple[Attack, np.ndarray]:
    """``attack_class`` fitted on the undefended shadow (the naive attacker's fit, ``key`` in
    :data:`UNDEFENDED_FITS`) and its scores on the undefended target's answers; an undefended answer draws
    nothing, so any generator serves."""
    undefended, rng = Undefended(), np.random.default_rng(0)
    fit = partial(_fitted, attack_class, params, calibration_data(signals, undefended, rng, 1, None))
    attack = UNDEFENDED_FITS.fitted(signals, key, fit)
    scores = attack.score(audit_answers(undefended, signals, audit_logits, rng, 1))
    scores.flags.writeable = False  # shared by every condition that reads it
    return attack, scores


def _parameters(defense: Defense) -> dict[str, float]:
    return {k: float(v) for k, v in vars(defense).items() if isinstance(v, int | float)}

import gc
from dataclasses import replace

import numpy as np
import pytest
from scipy.special import softmax

from audit_core.attacks.boundary import BoundaryAttack
from audit_core.attacks.qmia import QMIA
from audit_core.attacks.query import QueryAttack
from audit_core.audit import evaluation
from audit_core.audit.analysis import analyse_condition
from audit_core.audit.conditions import evaluate_condition
from audit_core.audit.evaluation import (
    doubling_schedule,
    near_duplicate,
    observe,
    score_condition,
)
from audit_core.audit.query_memo import MAX_BYTES, QueryMemo
from audit_core.audit.run import gather_inputs
from audit_core.audit.undefended_fits import UndefendedFits
from audit_core.config import AuditConfig
from audit_core.defenses import (
    DynaNoise,
    LabelOnly,
    MemGuard,
    ReverseSigmoid,
    StaticNoise,
    TemperatureScaling,
    TopKRounding,
    Undefended,
)
from audit_core.targets import ModelTarget


@pytest.fixture(scope="module")
def signals():
    config = AuditConfig(cache_dir=None, reference_models=4, recipe={"epochs": 30})
    return gather_inputs(config).signals


ATTACKS = ["loss", "lira_online", "rmia", "label_only"]


def _calls(monkeypatch, owner: type, method: str) -> list:
    """A list that grows by one at each call of ``owner.method``, which still runs as it did."""
    calls, real = [], getattr(owner, method)
    monkeypatch.setattr(owner, method, lambda self, *a, **k: calls.append(1) or real(self, *a, **k))
    return calls


def _fresh_memos(monkeypatch) -> None:
    """Nothing fitted or scored by other tests on the shared signals."""
    monkeypatch.setattr(evaluation, "UNDEFENDED_FITS", UndefendedFits())
    monkeypatch.setattr(evaluation, "MODEL_LABEL_SCORES", UndefendedFits())


def test_without_a_defense_every_attacker_knowledge_sees_the_same_answers(signals):
    evaluation = evaluate_condition(signals, Undefended(), ATTACKS, seed=0, max_queries=8)
    for attack in ATTACKS:
        naive = evaluation.outcome(attack, "naive")
        for mode in ("adaptive", "averaging"):
            other = evaluation.outcome(attack, mode)
            assert np.array_equal(naive.scores, other.scores) and naive.threshold == other.threshold
    assert {p.queries for p in evaluation.averaging} == {1}, "a deterministic condition needs no repeats"


def test_same_seed_same_numbers_and_the_knowledge_modes_differ_under_noise(signals):
    first = evaluate_condition(signals, DynaNoise(), ATTACKS, seed=3, max_queries=4)
    second = evaluate_condition(signals, DynaNoise(), ATTACKS, seed=3, max_queries=4)
    for a, b in zip(first.outcomes, second.outcomes, strict=True):
        assert np.array_equal(a.scores, b.scores) and a.auc == b.auc
    assert first.test_accuracy == second.test_accuracy
    naive, adaptive = first.outcome("lira_online", "naive"), first.outcome("lira_online", "adaptive")
    assert naive.threshold != adaptive.threshold
    assert sorted({p.queries for p in first.averaging}) == [1, 2, 4]
    assert first.outcome("loss", "averaging").queries == 4


def test_attacks_without_their_inputs_are_skipped_with_a_reason(signals):
    evaluation = evaluate_condition(replace(signals, references=None), Undefended(), ATTACKS, seed=0)
    assert set(evaluation.skipped) == {"lira_online", "rmia"}
    assert "needs reference models" in evaluation.skipped["rmia"]
    assert evaluation.attacks == ["loss", "label_only"]


def test_query_attacks_are_skipped_with_what_this_audit_lacks_for_them(signals):
    """A predictions table answers only for its own records, text records cannot be perturbed, and without
    a shadow model nothing calibrates the threshold: each skip says which."""
    members, non_members = signals.members, signals.non_members
    lacking = {
        "predictions table answers for its own records only": replace(signals, query_models=None),
        "number fields or texts of words to perturb": replace(  # raw records (no query models)
            signals,
            members=replace(members, features=None),
            non_members=replace(non_members, features=None),
            query_models=None,
        ),
        "a shadow model it can query": replace(
            signals, query_models=replace(signals.query_models, shadows=())
        ),
    }
    for reason, lacking_signals in lacking.items():
        evaluation = evaluate_condition(
            lacking_signals, Undefended(), ["augmentation", "boundary", "loss"], seed=0, knowledge=["naive"]
        )
        assert set(evaluation.skipped) == {"augmentation", "boundary"}
        assert reason in evaluation.skipped["boundary"], evaluation.skipped["boundary"]


def test_query_attacks_query_through_the_defense(signals):
    """Query attacks read released labels: a defense that keeps every label (temperature) leaves their
    scores unchanged; per-query noise that flips labels changes them and the attacker's accuracy."""
    names = ["augmentation", "boundary"]
    options = {"knowledge": ["adaptive"], "seed": 0}
    plain = score_condition(signals, Undefended(), names, **options)
    cooled = score_condition(signals, TemperatureScaling(temperature=50.0), names, **options)
    noisy = score_condition(signals, DynaNoise(sigma0_sq=50.0, noise_mode="per_query"), names, **options)
    for a, b, c in zip(plain.scores, cooled.scores, noisy.scores, strict=True):
        assert np.array_equal(a.scores, b.scores)
        assert not np.array_equal(a.scores, c.scores)


@pytest.mark.parametrize("noise_mode", ["per_query", "per_input"])
def test_averaging_k_answers_shrinks_the_noise_like_one_over_k(noise_mode):
    # 4000 distinct queries with (almost) the same logits, so per-input noise is keyed differently per row.
    logits = np.array([[3.0, 0.0, -1.0]]) + 1e-9 * np.arange(4000)[:, None]
    defense = DynaNoise(temperature=1.0, noise_mode=noise_mode, key=b"k" * 16)
    single = observe(defense, logits, np.random.default_rng(0), 1)[:, 0]
    averaged = observe(defense, logits, np.random.default_rng(1), 16)[:, 0]
    ratio = single.var(ddof=1) / averaged.var(ddof=1)
    # The ratio of two sample variances of 4000 draws: F(3999, 3999) has a 99.9% range of about [0.9, 1.1].
    assert 16 * 0.9 < ratio < 16 * 1.1
    assert observe(Undefended(), logits, np.random.default_rng(0), 16).shape == logits.shape


def test_per_input_noise_repeats_exactly_but_near_duplicates_get_fresh_noise():
    logits = np.random.default_rng(0).normal(scale=3.0, size=(500, 10))
    defense = DynaNoise(sigma0_sq=1.0, noise_mode="per_input", key=b"k" * 16)
    rng = np.random.default_rng(0)
    assert np.array_equal(defense.apply(logits, rng), defense.apply(logits, rng))
    nudged = near_duplicate(logits, 1)
    assert np.abs(nudged - logits).max() < 1e-14 and (nudged != logits).all()
    assert (defense.apply(nudged, rng) != defense.apply(logits, rng)).all(axis=1).all()
    assert defense.averaging_gains and not TemperatureScaling(temperature=2.0).averaging_gains


@pytest.mark.parametrize(
    "defense",
    [
        DynaNoise(sigma0_sq=0.0, temperature=4.0),
        DynaNoise(sigma0_sq=0.0, temperature=4.0, noise_mode="per_input", key=b"k" * 16),
        StaticNoise(sigma_sq=0.0),
    ],
    ids=["dynanoise", "dynanoise_per_input", "static_noise"],
)
def test_a_noise_defense_set_to_no_noise_is_not_averaged(signals, defense):
    """DynaNoise with sigma0_sq = 0 (a setting the tuner may choose) is softmax(z / T) and static noise of
    variance 0 the softmax itself: every answer is the same, so the averaging attacker asks once, and sees
    what the adaptive one sees."""
    evaluation = evaluate_condition(signals, defense, ATTACKS, seed=0, max_queries=8)
    assert {p.queries for p in evaluation.averaging} == {1}
    for attack in ATTACKS:
        adaptive, averaging = evaluation.outcome(attack, "adaptive"), evaluation.outcome(attack, "averaging")
        assert np.array_equal(adaptive.scores, averaging.scores), attack
    temperature = getattr(defense, "temperature", 1.0)
    logits = signals.members.logits
    answers = defense.apply(logits, np.random.default_rng(0))
    np.testing.assert_allclose(answers, softmax(logits / temperature, axis=1), rtol=1e-12, atol=1e-15)


def test_the_averaging_attacker_reaches_per_input_noise_through_near_duplicates(signals):
    defense = DynaNoise(noise_mode="per_input", key=b"k" * 16)
    scores = score_condition(signals, defense, ["loss"], seed=0, max_queries=4)
    assert sorted({s.queries for s in scores.averaging}) == [1, 2, 4]


def test_doubling_schedule():
    assert doubling_schedule(1) == [1]
    assert doubling_schedule(64) == [1, 2, 4, 8, 16, 32, 64]
    assert doubling_schedule(10) == [1, 2, 4, 8, 10]


def test_naive_fits_are_made_once_for_every_condition_and_equal_fits_made_afresh(signals, monkeypatch):
    """The naive attacker calibrates on undefended outputs whatever the condition: its attacks are fitted once
    per Signals, held while the Signals live, and score exactly as attacks fitted afresh do."""
    attacks, params = ["shadow", "boundary", "qmia", "loss"], {"boundary": {"max_queries": 16}}
    memo = UndefendedFits()
    monkeypatch.setattr(evaluation, "UNDEFENDED_FITS", memo)

    def naive(defense, on=signals):
        return score_condition(on, defense, attacks, seed=0, knowledge=("naive",), attack_params=params)

    naive(TemperatureScaling(temperature=3.0))
    fitted = len(memo)
    shared = naive(DynaNoise())
    assert fitted == len(memo) == 3  # qmia needs the condition's own population answers: fitted anew
    monkeypatch.setattr(evaluation, "UNDEFENDED_FITS", UndefendedFits())
    afresh = naive(DynaNoise())
    for a, b in zip(shared.scores, afresh.scores, strict=True):
        assert np.array_equal(a.scores, b.scores) and a.threshold == b.threshold
    monkeypatch.setattr(evaluation, "UNDEFENDED_FITS", memo)
    other = replace(signals)
    naive(Undefended(), on=other)
    assert len(memo) == 6
    del other
    gc.collect()
    assert len(memo) == 3


def test_an_attack_on_the_same_inputs_is_fitted_once_per_condition_and_scores_as_if_fitted_alone(
    signals, monkeypatch
):
    """QMIA reads only the target's population answers, which every knowledge of a condition shares (one
    query): one fit serves the three, and each scores exactly as a fit for that knowledge alone does."""
    fits = _calls(monkeypatch, QMIA, "fit")
    defense = DynaNoise(sigma0_sq=0.5)
    every = score_condition(signals, defense, ["qmia"], seed=0, max_queries=1)
    assert len(fits) == 1 and len(every.scores) == 3
    for knowledge in ("naive", "adaptive", "averaging"):
        alone = score_condition(signals, defense, ["qmia"], seed=0, knowledge=(knowledge,), max_queries=1)
        [shared] = [s for s in every.scores if s.knowledge == knowledge]
        assert (
            np.array_equal(shared.scores, alone.scores[0].scores)
            and shared.threshold == alone.scores[0].threshold
        )


@pytest.mark.parametrize(
    ("defense", "distinct"),
    [(Undefended(), 1), (ReverseSigmoid(), 2), (StaticNoise(sigma_sq=0.0), 2)],
)
def test_knowledges_calibrated_alike_on_fixed_answers_are_scored_once_and_as_if_alone(
    signals, monkeypatch, defense, distinct
):
    """A defense whose answers are a fixed function of the logits: the averaging attacker asks once and
    calibrates as the adaptive one does, and without a defense all three knowledges calibrate alike. Each
    calibration is scored once (a boundary attack's bisections run once per calibration, on the shadow
    records and on the audit points), and each knowledge's scores, threshold and choices equal those of that
    knowledge scored alone."""
    names = ["loss", "qmia", "boundary"]
    _fresh_memos(monkeypatch)
    runs = _calls(monkeypatch, BoundaryAttack, "statistic")
    every = score_condition(signals, defense, names, seed=0, max_queries=8)
    assert len(runs) == 2 * distinct
    assert [(s.knowledge, s.attack) for s in every.scores] == [
        (knowledge, name) for knowledge in ("naive", "adaptive", "averaging") for name in names
    ]
    assert [s.knowledge for s in every.averaging] == ["averaging"] * len(names)
    for knowledge in ("naive", "adaptive", "averaging"):
        alone = score_condition(signals, defense, names, seed=0, knowledge=(knowledge,), max_queries=8)
        shared = [s for s in every.scores if s.knowledge == knowledge]
        for a, b in zip(shared, alone.scores, strict=True):
            assert np.array_equal(a.scores, b.scores) and a.threshold == b.threshold and a.chosen == b.chosen


def test_query_attacks_through_label_keeping_fixed_defenses_read_the_model_labels_once(signals, monkeypatch):
    """Temperature, top-k and the label alone release each query's own label every time: a label-only query
    attack reads through them what it reads from the undefended models. Its fit and audit scores are
    computed once for every such condition and knowledge, and equal, score for score, those computed by
    querying through each defense (HAMP and MemGuard keep labels but draw for them, and are queried)."""
    names = ["augmentation", "boundary"]
    keeping = [
        Undefended(),
        TemperatureScaling(temperature=50.0),
        TopKRounding(k=3, decimals=1),
        LabelOnly(),
    ]
    assert not evaluation.reads_model_labels(BoundaryAttack, MemGuard())
    assert not evaluation.reads_model_labels(BoundaryAttack, StaticNoise(sigma_sq=0.0))  # may change a label
    _fresh_memos(monkeypatch)
    runs = _calls(monkeypatch, QueryAttack, "statistic")
    shared = [score_condition(signals, defense, names, seed=0, max_queries=8) for defense in keeping]
    assert len(runs) == 2 * len(names)  # each attack's shadow calibration and audit scores, once
    monkeypatch.setattr(evaluation, "reads_model_labels", lambda attack, defense: False)
    for defense, once in zip(keeping, shared, strict=True):
        queried = score_condition(signals, defense, names, seed=0, max_queries=8)
        assert len(once.scores) == len(queried.scores) == 3 * len(names)
        for a, b in zip(once.scores, queried.scores, strict=True):
            assert (a.condition, a.knowledge, a.attack) == (b.condition, b.knowledge, b.attack)
            assert np.array_equal(a.scores, b.scores) and a.threshold == b.threshold and a.chosen == b.chosen


def test_repeated_queries_are_computed_once_and_score_the_same(signals, monkeypatch):
    """An augmentation attack sends the same queries in every condition, and a boundary attack its first two
    rounds (every direction at max_radius, then at half of it), which they mark fixed: with the query memo
    the models compute them once across conditions, and every score and threshold equals those computed
    with nothing kept."""
    names, options = ["augmentation", "boundary"], {"knowledge": ["adaptive"], "seed": 0}
    computed = []
    logits = ModelTarget.logits
    monkeypatch.setattr(ModelTarget, "logits", lambda self, x: computed.append(len(x)) or logits(self, x))
    defenses = [
        DynaNoise(sigma0_sq=2.0, noise_mode="per_query"),
        ReverseSigmoid(),  # a defense that keeps every label is not queried at all: see the test above
        DynaNoise(sigma0_sq=0.5, noise_mode="per_query"),
    ]
    runs = {}
    for kept in (0, MAX_BYTES):
        monkeypatch.setattr(evaluation, "QUERY_MEMO", QueryMemo(kept))
        computed.clear()
        runs[kept] = (
            [score_condition(signals, defense, names, **options) for defense in defenses],
            sum(computed),
        )
    for plain, remembered in zip(runs[0][0], runs[MAX_BYTES][0], strict=True):
        for a, b in zip(plain.scores, remembered.scores, strict=True):
            assert np.array_equal(a.scores, b.scores) and a.threshold == b.threshold
    records = sum(len(part) for part in (signals.members, signals.non_members))
    records += len(signals.shadow_members) + len(signals.shadow_non_members)
    saved = runs[0][1] - runs[MAX_BYTES][1]
    assert saved == 2 * records * (16 + 2 * 16)  # the later conditions' augmentations, boundary's two rounds


def test_the_settings_an_attack_chose_itself_are_in_its_auc_note(signals):
    """LiRA's spread and RMIA's a, chosen on the references, and the side an attack reads its statistic on,
    chosen there or on the shadow, are each scored attack's; a setting the config gives is not a choice and
    goes unmentioned, and a published rule chooses nothing."""
    scores = score_condition(
        signals,
        Undefended(),
        ["lira_online", "rmia", "loss", "paper_loss"],
        seed=0,
        knowledge=["naive"],
        attack_params={"rmia": {"a": 0.5}},
    )
    chosen = {s.attack: s.chosen for s in scores.scores}
    assert set(chosen["lira_online"]) == {"fixed_variance"} and chosen["paper_loss"] == {}
    # an undefended model's members have the higher confidence and the lower loss
    assert chosen["rmia"] == chosen["loss"] == {"side": "published"}
    analysed = analyse_condition(scores, seed=0, bootstrap=False)
    notes = {attack: analysed.outcome(attack, "naive").auc_note for attack in chosen}
    spread = chosen["lira_online"]["fixed_variance"]
    assert notes["lira_online"] == f"1 answer per query; chosen when fitted: fixed_variance = {spread}"
    assert notes["loss"] == notes["rmia"] == "1 answer per query; chosen when fitted: side = published"
    assert notes["paper_loss"] == "1 answer per query"

"""Every registered defense: probability vectors out, labels and rankings kept where promised."""

from functools import partial

import numpy as np
import pytest
import torch
from scipy import stats
from scipy.special import expit, logit, softmax

from audit_core.audit.evaluation import observe, observe_labels
from audit_core.config import parse_config
from audit_core.core.errors import ConfigError
from audit_core.core.seeding import derive_rng
from audit_core.defenses import (
    DEFENSES,
    DefenderData,
    HampOutput,
    MemGuard,
    ReverseSigmoid,
    StaticNoise,
    TemperatureScaling,
    TopKRounding,
    fit_defense,
)
from audit_core.defenses.truncation import round_to_sum_one

N_CLASSES = 10


def _logits(n: int, seed: int, scale: float = 4.0) -> np.ndarray:
    """Logits from confident to flat, with distinct values in every row."""
    rng = np.random.default_rng(seed)
    return rng.normal(0, 1, (n, N_CLASSES)) * rng.uniform(0.1, scale, (n, 1))


@pytest.fixture(scope="module")
def defender() -> DefenderData:
    rng = np.random.default_rng(11)
    members = rng.normal(0, 1, (150, N_CLASSES))
    members[np.arange(150), rng.integers(N_CLASSES, size=150)] += 8.0  # confident, like training points
    return DefenderData(members, _logits(150, 12, scale=2.0), rng.normal(0, 0.3, (200, N_CLASSES)))


SETTINGS = [(name, params) for name, cls in DEFENSES.items() for params in cls.GRID if name != "dynanoise"]
SETTINGS += [("dynanoise", {}), ("dynanoise", {"ensemble_size": 4})]


@pytest.mark.parametrize(("name", "params"), SETTINGS, ids=lambda v: str(v))
def test_every_defense_releases_probability_vectors(name, params, defender):
    defense = fit_defense(DEFENSES[name](**params), defender, seed=0)
    logits = _logits(40, 1) * 3
    released = defense.apply(logits, np.random.default_rng(2))
    assert released.shape == logits.shape
    assert np.all(np.isfinite(released)) and np.all(released >= 0)
    assert np.allclose(released.sum(axis=1), 1.0, atol=1e-9)


@pytest.mark.parametrize(("name", "params"), SETTINGS, ids=lambda v: str(v))
def test_summed_answers_equal_that_many_answers_drawn_one_after_another(name, params, defender):
    defense = fit_defense(DEFENSES[name](**params), defender, seed=0)
    logits = _logits(40, 5)
    one_by_one, summed = np.random.default_rng(9), np.random.default_rng(9)
    expected = defense.apply(logits, one_by_one)
    for _ in range(4):
        expected = expected + defense.apply(logits, one_by_one)
    assert np.array_equal(defense.summed_answers(logits, summed, 5), expected)
    assert one_by_one.random() == summed.random()  # the same draws were made


@pytest.mark.parametrize(
    ("name", "params"), [s for s in SETTINGS if DEFENSES[s[0]].preserves_label], ids=lambda v: str(v)
)
def test_label_preserving_defenses_keep_the_top_class(name, params, defender):
    defense = fit_defense(DEFENSES[name](**params), defender, seed=0)
    logits = _logits(60, 3)
    released = defense.apply(logits, np.random.default_rng(4))
    assert np.array_equal(released.argmax(axis=1), logits.argmax(axis=1)), "the model's label must stay"


def test_labels_name_every_grid_setting_distinctly():
    labels = [DEFENSES[name](**params).label for name, params in SETTINGS]
    assert len(set(labels)) == len(labels)


def test_hamp_keeps_the_whole_ranking_and_uses_random_input_confidences(defender):
    hamp = fit_defense(HampOutput(), defender, seed=0)
    logits = _logits(80, 5)
    released = hamp.apply(logits, np.random.default_rng(6))
    assert np.array_equal(np.argsort(-released, axis=1), np.argsort(-logits, axis=1))
    reference = np.sort(softmax(defender.random_input_logits, axis=1), axis=1)
    assert all(any(np.allclose(np.sort(row), ref) for ref in reference) for row in released)
    assert released.max(axis=1).mean() < softmax(logits, axis=1).max(axis=1).mean()


def test_hamp_keeps_the_label_where_the_random_inputs_confidences_tie_at_the_top():
    tied = np.log([[0.4, 0.4, 0.2] + [1e-12] * (N_CLASSES - 3), [0.5, 0.5] + [1e-12] * (N_CLASSES - 2)])
    hamp = fit_defense(HampOutput(), DefenderData(None, None, tied), seed=0)
    logits = _logits(200, 8)
    released = hamp.apply(logits, np.random.default_rng(1))
    assert np.array_equal(released.argmax(axis=1), logits.argmax(axis=1))  # first of the tie: half wrong
    assert np.allclose(released.sum(axis=1), 1.0, atol=1e-12)
    second = -np.sort(-released, axis=1)[:, 1]
    assert np.array_equal(np.sort(released, axis=1)[:, -1], np.nextafter(second, np.inf))


@pytest.mark.parametrize("queries", [1, 4, 64])
def test_hamp_tells_a_label_only_attacker_the_models_labels_and_draws_as_its_answers_do(queries, defender):
    """What a label-only attacker reads off HAMP is the model's label, without building the answers: the
    argmax of the averaged answers, and the random stream is left where answering would leave it."""
    hamp = fit_defense(HampOutput(), defender, seed=0)
    logits = _logits(200, 13)[:, None, :].repeat(3, axis=1)  # (records, queries, k), as a query attack asks
    logits[:, 1:] += np.random.default_rng(14).normal(0, 0.5, (200, 2, N_CLASSES))
    told, answered = np.random.default_rng(15), np.random.default_rng(15)
    hamp.apply = None  # the label-only path must not build answers
    labels = observe_labels(hamp, logits, told, queries)
    del hamp.apply
    assert np.array_equal(labels, observe(hamp, logits, answered, queries).argmax(axis=-1))
    assert np.array_equal(labels, logits.argmax(axis=-1))
    assert answered.random() == told.random()


def test_hamp_must_be_fitted_first():
    with pytest.raises(RuntimeError, match="needs fit"):
        HampOutput().apply(_logits(2, 0), np.random.default_rng(0))


def test_temperature_scaling_is_softmax_of_scaled_logits():
    logits = _logits(5, 7)
    released = TemperatureScaling(temperature=4.0).apply(logits, np.random.default_rng(0))
    assert np.allclose(released, softmax(logits / 4.0, axis=1))


def test_static_noise_has_the_configured_variance():
    """The log-ratio of two released classes recovers eps_1 - eps_0 ~ N(0, 2 sigma_sq): chi-square interval
    at 99.9%."""
    draws, sigma_sq = 20_000, 0.7
    logits = np.tile([[2.0, 0.5, -1.0]], (draws, 1))
    released = StaticNoise(sigma_sq=sigma_sq).apply(logits, np.random.default_rng(8))
    noise = np.log(released[:, 1]) - np.log(released[:, 0]) - (logits[:, 1] - logits[:, 0])
    statistic = (draws - 1) * noise.var(ddof=1) / (2 * sigma_sq)
    assert stats.chi2.ppf(5e-4, draws - 1) < statistic < stats.chi2.ppf(1 - 5e-4, draws - 1)


def test_reverse_sigmoid_follows_lee_et_al():
    logits = np.array([[2.0, 1.0, -1.0]])
    p = softmax(logits, axis=1)
    expected = p - 0.3 * (expit(2.0 * logit(p)) - 0.5)
    expected = np.maximum(expected, 0) / np.maximum(expected, 0).sum()
    released = ReverseSigmoid(beta=0.3, gamma=2.0).apply(logits, np.random.default_rng(0))
    assert np.allclose(released, expected)
    assert released.max() < p.max() and released.min() > p.min()


@pytest.mark.parametrize(("name", "params"), SETTINGS, ids=lambda v: str(v))
def test_every_setting_the_tuner_compares_releases_answers_that_tell_classes_apart(name, params, defender):
    """No grid point releases one value for every class (reverse_sigmoid at beta=1, gamma=1 did: its argmax
    was rounding noise, which scored as accuracy on the front)."""
    defense = fit_defense(DEFENSES[name](**params), defender, seed=0)
    released = defense.apply(_logits(40, 3) * 3, np.random.default_rng(4))
    spread = released.max(axis=1) - released.min(axis=1)
    assert np.all(spread > 1e-6), spread.min()


def test_reverse_sigmoid_refuses_the_setting_that_releases_one_half_for_every_class():
    p = softmax(_logits(5, 0), axis=1)
    cancelled = p - 1.0 * (expit(logit(p)) - 0.5)  # gamma = 1: sigmoid(logit(p)) = p
    assert np.allclose(cancelled, 0.5)
    with pytest.raises(ValueError, match="beta=1 and gamma=1 releases 1/2 for every class"):
        ReverseSigmoid(beta=1.0, gamma=1.0)
    with pytest.raises(ConfigError, match=r"defenses\.1: ReverseSigmoid with beta=1 and gamma=1"):
        parse_config({"defenses": [{"name": "hamp"}, {"name": "reverse_sigmoid", "beta": 1, "gamma": 1}]})


def test_top_k_rounding_releases_k_values_on_the_decimal_grid_that_sum_to_one():
    logits = _logits(200, 9)
    released = TopKRounding(k=3, decimals=2).apply(logits, np.random.default_rng(0))
    assert np.all((released > 0).sum(axis=1) <= 3)
    assert np.allclose(released * 100, np.round(released * 100), atol=1e-9)
    assert np.allclose(released.sum(axis=1), 1.0, atol=1e-12)
    unrounded = TopKRounding(k=3).apply(logits, np.random.default_rng(0))
    assert np.all(np.abs(released - unrounded) <= 0.01 + 1e-12)


def test_top_k_rounding_keeps_the_label_where_rounding_ties_the_top_class():
    probs = np.array([[0.4951, 0.5049, 0.0], [0.4010, 0.4011, 0.1979], [0.2, 0.5, 0.3], [0.5, 0.5, 0.0]])
    logits = np.log(np.maximum(probs, 1e-300))
    # largest remainders: [0.50, 0.50, 0], [0.40, 0.40, 0.20]; the last row is the model's own tie
    assert (round_to_sum_one(probs, 2)[:2, :2] == [[0.5, 0.5], [0.4, 0.4]]).all()
    released = TopKRounding(k=None, decimals=2).apply(logits, np.random.default_rng(0))
    assert np.array_equal(released.argmax(axis=1), [1, 1, 1, 0])
    raised = released[[0, 1, 3], [1, 1, 0]]  # the model's own tie too: its argmax, now the unique top
    assert np.array_equal(raised, np.nextafter([0.5, 0.4, 0.5], 1.0)), "one unit in the last place, no more"
    assert np.array_equal(np.delete(released, [1, 4, 9]), np.delete(round_to_sum_one(probs, 2), [1, 4, 9]))


def test_memguard_pushes_its_classifier_to_one_half_within_the_distortion_budget(defender):
    memguard = fit_defense(MemGuard(distortion_budget=0.5), defender, seed=0)
    members = torch.from_numpy(defender.member_logits[:50])
    before = memguard.membership_logit(members).abs()
    noise = torch.from_numpy(memguard.perturb(defender.member_logits[:50]))
    after = memguard.membership_logit(members + noise).abs()
    assert before.mean() > 1.0, "the defender's classifier must recognise its own members"
    assert after.mean() < 0.1 * before.mean()
    released = memguard.apply(defender.member_logits, np.random.default_rng(1))
    distortion = np.abs(released - softmax(defender.member_logits, axis=1)).sum(axis=1)
    # Expected distortion <= budget: a one-sided bound of 4 standard errors on the sample mean.
    assert distortion.mean() <= 0.5 + 4 * distortion.std(ddof=1) / np.sqrt(len(distortion))


def test_memguard_repeated_queries_reuse_the_perturbation_and_redraw_only_the_release(defender):
    memguard = fit_defense(MemGuard(distortion_budget=0.2), defender, seed=0)
    searches = []
    memguard.perturb = lambda z: searches.append(z) or MemGuard.perturb(memguard, z)  # counts the searches
    logits = defender.member_logits[:40] + 1e-9  # logits no other test has perturbed
    rng = np.random.default_rng(0)
    answers = [memguard.apply(logits, rng) for _ in range(30)]
    twin = fit_defense(MemGuard(distortion_budget=0.2), defender, seed=0)  # identically fitted: reuses it
    twin.perturb = lambda z: searches.append(z) or MemGuard.perturb(twin, z)
    assert np.array_equal(twin.apply(logits, np.random.default_rng(0)), answers[0])
    assert len(searches) == 1
    noisy = softmax(logits + MemGuard.perturb(memguard, logits), axis=1)
    clean = softmax(logits, axis=1)
    for answer in answers:  # each row is either the clean or the (one) perturbed answer
        is_noisy = np.isclose(answer, noisy).all(axis=1)
        assert np.all(is_noisy | np.isclose(answer, clean).all(axis=1))
    assert not all(np.array_equal(answers[0], a) for a in answers[1:]), "the release coin is redrawn"


def test_memguard_settings_differing_in_the_budget_alone_share_one_fit_and_one_search(defender):
    """The distortion budget is step 3's alone: MemGuards of a grid that differ only in it fit one classifier
    (drawn as the default budget's is) and search each query once; each releases by its own budget."""
    searches = []
    grid = [fit_defense(MemGuard(**setting), defender, seed=0) for setting in MemGuard.GRID]
    for memguard in grid:
        memguard.perturb = partial(lambda m, z: searches.append(z) or MemGuard.perturb(m, z), memguard)
    default = MemGuard()
    default.fit(defender, derive_rng(0, "defense-fit", default.label))  # as every budget fitted before
    assert {m.fitted_digest_ for m in grid} == {default.fitted_digest_}
    logits = defender.non_member_logits[:60] + 2e-9  # logits no other test has perturbed
    clean = softmax(logits, axis=1)
    distortions = []
    for memguard in grid:
        released = memguard.apply(logits, np.random.default_rng(3))
        distortions.append(np.abs(released - clean).sum(axis=1).mean())
    assert len(searches) == 1
    assert distortions == sorted(distortions) and distortions[0] < distortions[-1]
    other = fit_defense(MemGuard(max_iter=50), defender, seed=0)  # a search parameter: its own fit
    assert other.fitted_digest_ != default.fitted_digest_


@pytest.mark.parametrize("queries", [1, 4])
def test_memguard_tells_a_label_only_attacker_the_labels_of_its_answers_and_draws_as_they_do(
    queries, defender
):
    """What a label-only attacker reads off MemGuard is computed without its search, yet equals the argmax of
    the averaged answers, and the random stream is left where answering would leave it."""
    memguard = fit_defense(MemGuard(distortion_budget=2.0), defender, seed=0)
    logits = _logits(200, 13)[:, None, :].repeat(3, axis=1)  # (records, queries, k), as a query attack asks
    logits[:, 1:] += np.random.default_rng(14).normal(0, 0.5, (200, 2, N_CLASSES))
    told, answered = np.random.default_rng(15), np.random.default_rng(15)
    memguard.perturb = None  # the label-only path must not search
    labels = observe_labels(memguard, logits, told, queries)
    del memguard.perturb
    assert np.array_equal(labels, observe(memguard, logits, answered, queries).argmax(axis=-1))
    assert answered.random() == told.random()


def test_memguard_with_no_iterations_releases_the_clean_output(defender):
    memguard = fit_defense(MemGuard(max_iter=0), defender, seed=0)
    logits = _logits(20, 10)
    released = memguard.apply(logits, np.random.default_rng(0))
    assert np.allclose(released, softmax(logits, axis=1))


def test_fitting_is_reproducible_from_the_run_seed(defender):
    logits = defender.non_member_logits[:20]
    first = fit_defense(MemGuard(max_iter=20), defender, seed=3).apply(logits, np.random.default_rng(0))
    second = fit_defense(MemGuard(max_iter=20), defender, seed=3).apply(logits, np.random.default_rng(0))
    assert np.array_equal(first, second)


@pytest.mark.parametrize(
    ("cls", "params"),
    [
        (StaticNoise, {"sigma_sq": -1.0}),
        (TemperatureScaling, {"temperature": 0.0}),
        (ReverseSigmoid, {"gamma": 0.0}),
        (TopKRounding, {"k": 0}),
        (MemGuard, {"step_size": 0.0}),
    ],
)
def test_invalid_parameters_are_rejected(cls, params):
    with pytest.raises(ValueError, match="needs"):
        cls(**params)

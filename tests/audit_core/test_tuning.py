"""The tuner: budget respected on the tuning split, reproducible, paper grid, baselines on the same front."""

import re
from dataclasses import replace

import numpy as np
import optuna
import pandas as pd
import pytest

from audit_core.audit.signals import LogitSet, Signals
from audit_core.audit.split import SPLIT_PARTS, scored_points, split_signals
from audit_core.config import TuneConfig
from audit_core.core.forked import WORKERS_VARIABLE, available_cores, worker_count
from audit_core.core.probability import softmax
from audit_core.defenses import DEFENSES, DefenderData, MemGuard
from audit_core.results.summary import NO_SETTING, tuning_conclusion, tuning_rows
from audit_core.tuning import search as tuning
from audit_core.tuning.search import (
    PAPER_CENTRE,
    Attacker,
    TuningError,
    comparison,
    paper_grid,
    pareto_mask,
    tune,
)

ATTACKS = ["loss", "modified_entropy"]


def _logit_set(rng: np.random.Generator, n: int, margin: float, name: str) -> LogitSet:
    """Logits whose true class leads by about ``margin`` (members lead by more: they were trained on)."""
    labels = rng.integers(10, size=n)
    logits = rng.normal(0, 1, (n, 10))
    logits[np.arange(n), labels] += rng.normal(margin, 1.5, n)
    return LogitSet(logits, labels, np.array([f"{name}:{i}" for i in range(n)]))


@pytest.fixture(scope="module")
def signals() -> Signals:
    rng = np.random.default_rng(0)
    return Signals(
        members=_logit_set(rng, 120, 6.0, "m"),
        non_members=_logit_set(rng, 120, 3.5, "n"),
        test=_logit_set(rng, 400, 3.5, "t"),
        population=_logit_set(rng, 200, 3.5, "p"),
        shadow_members=_logit_set(rng, 120, 6.0, "sm"),
        shadow_non_members=_logit_set(rng, 120, 3.5, "sn"),
    )


@pytest.fixture(scope="module")
def halves(signals) -> tuple[Signals, Signals]:
    return split_signals(signals, 0.5, np.random.default_rng(1))


@pytest.fixture(scope="module")
def defender(signals) -> DefenderData:
    random_inputs = np.random.default_rng(2).normal(0, 0.5, (100, 10))
    return DefenderData(signals.shadow_members.logits, signals.shadow_non_members.logits, random_inputs)


def _tune(halves, defender, **settings) -> object:
    config = TuneConfig(**{"n_trials": 8, "baselines": False, **settings})
    return tune(*halves, defender, config, Attacker(tuple(ATTACKS), config.knowledge, seed=0))


def test_split_is_disjoint_covers_every_point_and_shares_the_shadow(signals, halves):
    tuning, evaluation = halves
    for part in ("members", "non_members", "test"):
        first, second = getattr(tuning, part).ids, getattr(evaluation, part).ids
        assert not set(first) & set(second)
        assert sorted([*first, *second]) == sorted(getattr(signals, part).ids)
        assert abs(len(first) - len(second)) <= 1
    assert tuning.shadow_members is signals.shadow_members is evaluation.shadow_members


@pytest.mark.parametrize(
    ("objective", "budget"), [("midput", 0.0), ("worst_case_advantage", 0.01), ("tpr_at_1pct_fpr", 0.05)]
)
def test_the_chosen_point_is_the_best_within_budget_on_the_tuning_split(halves, defender, budget, objective):
    result = _tune(halves, defender, budget=budget, objective=objective)
    trials = result.trials
    chosen = trials[trials.chosen]
    assert len(chosen) == 1 and chosen.accuracy_drop.iloc[0] <= budget
    feasible = trials[trials.accuracy_drop <= budget][objective]
    best = feasible.max() if objective == "midput" else feasible.min()
    assert chosen[objective].iloc[0] == best
    assert result.chosen_metrics()["tuning"]["accuracy_drop"] <= budget
    assert {n: getattr(result.chosen, n) for n in ("sigma0_sq", "lam", "temperature")} == {
        n: chosen[n].iloc[0] for n in ("sigma0_sq", "lam", "temperature")
    }


def test_each_trial_is_reported_as_it_is_scored(halves, defender):
    config = TuneConfig(n_trials=12, baselines=False)
    reports: list[tuple[int, int]] = []
    attacker = Attacker(tuple(ATTACKS), config.knowledge, seed=0)
    trials = tune(*halves, defender, config, attacker, on_trial_done=lambda *r: reports.append(r)).trials
    assert len(trials) == 12 and reports == [(done, 12) for done in range(13)]


def test_over_budget_trials_exist_so_the_constraint_binds(halves, defender):
    trials = _tune(halves, defender, budget=0.0, n_trials=12).trials
    assert (~trials.feasible).any() and trials.feasible.any()


def test_same_seed_same_choice_and_trials(halves, defender):
    first, second = _tune(halves, defender), _tune(halves, defender)
    pd.testing.assert_frame_equal(first.trials, second.trials)
    assert first.chosen == second.chosen
    other = _tune(halves, defender, seed=5)
    assert not first.trials[["sigma0_sq", "lam", "temperature"]].equals(
        other.trials[["sigma0_sq", "lam", "temperature"]]
    )


def test_first_optuna_trial_is_the_papers_setting(halves, defender):
    first = _tune(halves, defender, n_trials=1, budget=1.0).trials.iloc[0]
    assert (first.sigma0_sq, first.lam, first.temperature) == (0.3, 2.0, 10.0)


def test_the_startup_trials_drawn_at_once_are_those_a_study_draws_one_after_another():
    config = TuneConfig(n_trials=25, seed=3)

    def outcome(params: dict[str, float]) -> tuple[float, float]:  # any fixed function of the parameters
        return params["sigma0_sq"] - params["lam"] / 7, params["temperature"] - 12.0

    search = tuning.OptunaSearch(config)
    assert len(search.known) == tuning.STARTUP_TRIALS
    told: list[dict[str, float]] = []
    search.run(lambda params: told.append(params) or outcome(params))
    # the plain study, each trial drawn after the one before is told
    sampler = optuna.samplers.TPESampler(seed=3)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.enqueue_trial(dict(tuning.PAPER_SETTING))
    drawn: list[dict[str, float]] = []

    def objective(trial: optuna.Trial) -> float:
        params = {
            n: round(trial.suggest_float(n, *getattr(config, f"{n}_range"), step=tuning.STEPS[n]), 10)
            for n in tuning.TUNED
        }
        drawn.append(params)
        value, excess = outcome(params)
        trial.set_constraint("accuracy_drop_over_budget", excess)
        return value

    with tuning._quiet_optuna():
        study.optimize(objective, n_trials=25)
    assert told == drawn and told[: tuning.STARTUP_TRIALS] == search.known


def test_the_paper_grid_is_three_one_at_a_time_sweeps():
    grid = paper_grid()
    assert len(grid) == 1 + 40 + 40 + 40
    for point in grid:
        assert sum(not np.isclose(point[n], PAPER_CENTRE[n]) for n in PAPER_CENTRE) <= 1
    assert [p["sigma0_sq"] for p in grid[1:41]] == [round(0.11 + 0.01 * i, 2) for i in range(40)]
    assert [p["temperature"] for p in grid[81:]] == [round(2.0 + 0.1 * i, 1) for i in range(41) if i != 40]


def test_grid_mode_evaluates_every_grid_point_in_order(halves, defender, monkeypatch):
    short = {"sigma0_sq": [0.1, 0.2], "lam": [2.0, 4.0], "temperature": [6.0, 3.0]}
    monkeypatch.setattr(tuning, "PAPER_SWEEPS", short)  # the full 121-point grid costs a minute here
    trials = _tune(halves, defender, mode="grid", budget=1.0).trials
    expected = pd.DataFrame(tuning.paper_grid())
    assert len(expected) == 4
    pd.testing.assert_frame_equal(trials[["sigma0_sq", "lam", "temperature"]], expected)


def test_an_impossible_budget_is_an_error_not_a_silent_choice(halves, defender):
    with pytest.raises(TuningError, match="No DynaNoise setting among 5 trials") as refused:
        _tune(halves, defender, budget=0.0, n_trials=5, sigma0_sq_range=(0.5, 0.6), lam_range=(2.0, 3.0))
    assert str(refused.value).endswith(
        "widen the search ranges, or run more than 10 trials (the first 10 are drawn at random)."
    )


def test_a_range_narrower_than_the_default_steps_is_searched_in_finer_steps_and_the_defaults_are_not():
    for name in tuning.TUNED:
        assert tuning.search_step(name, getattr(TuneConfig(), f"{name}_range")) == tuning.STEPS[name]
    drawn = [p["sigma0_sq"] for p in tuning.OptunaSearch(TuneConfig(sigma0_sq_range=(0.0, 1e-5))).known]
    assert all(0.0 <= value <= 1e-5 for value in drawn)
    assert len(set(drawn)) >= 8  # 10 draws among 101 values; Optuna collapsed them all to 0.0 at step 0.01
    assert all(np.isclose(value / 1e-7, round(value / 1e-7), atol=1e-6) for value in drawn)


def _scaled(signals: Signals, factor: float) -> Signals:
    """``signals`` of a model whose every logit is ``factor`` times as large."""
    parts = (*SPLIT_PARTS, "population", "shadow_members", "shadow_non_members")
    return replace(
        signals, **{n: replace(p, logits=p.logits * factor) for n in parts if (p := getattr(signals, n))}
    )


def test_logits_closer_together_than_the_noise_searched_get_a_range_on_their_scale_that_finds_a_setting(
    halves,
):
    tiny = tuple(_scaled(half, 1e-3) for half in halves)  # like AdaBoost's flat probabilities
    defender = DefenderData(tiny[0].shadow_members.logits, tiny[0].shadow_non_members.logits, None)
    gap = tuning.logit_gap(tiny[0].test.logits, 0.04)  # twice the budget's share of the records
    assert 0 < gap < 1e-2  # the noise searched by default has standard deviation 0.1 and more
    with pytest.raises(TuningError) as refused:
        _tune(tiny, defender, budget=0.02, n_trials=12)
    advice = re.search(r"tune\.sigma0_sq_range: \[0, ([^\]]+)\]\.$", str(refused.value))
    assert advice is not None and f"4% of the {len(tiny[0].test)} test records ({gap:.2g} or less)" in str(
        refused.value
    )
    high = float(advice.group(1))
    assert (2 * gap) ** 2 / 1.5 <= high <= 1.5 * (2 * gap) ** 2  # twice the gap squared, to 1 digit
    result = _tune(tiny, defender, budget=0.02, n_trials=12, sigma0_sq_range=(0.0, high))
    assert result.trials.feasible.any() and 0.0 <= result.chosen.sigma0_sq <= high


def test_baselines_share_the_front_and_are_confirmed_on_the_evaluation_split(halves, defender, monkeypatch):
    monkeypatch.setattr(MemGuard, "GRID", ({"distortion_budget": 1.0},))  # its per-query search is slow
    result = _tune(halves, defender, baselines=True, n_trials=6, budget=0.1)
    front = result.front
    assert set(front.family) == set(DEFENSES)
    tuning_points = front[front.split == "tuning"]
    for family, cls in DEFENSES.items():
        expected = 6 if family == "dynanoise" else len(cls.GRID)
        assert (tuning_points.family == family).sum() == expected
    assert not (front.chosen & ~front.feasible & (front.split == "tuning")).any()
    evaluation = front[front.split == "evaluation"]
    assert evaluation.chosen.all() and set(evaluation.family) <= set(DEFENSES)
    table = comparison(front, "midput")
    assert "midput/evaluation" in table.columns and "dynanoise" in set(table.family)


@pytest.mark.skipif(available_cores() < 2, reason="workers need two cores")
def test_the_front_is_the_same_whether_workers_score_the_baselines_or_this_process_does(
    halves, defender, monkeypatch
):
    monkeypatch.setattr(MemGuard, "GRID", ({"distortion_budget": 1.0},))
    assert worker_count(8, busy_here=True) >= 1
    with_workers = _tune(halves, defender, baselines=True, n_trials=6, budget=0.1)
    monkeypatch.setenv(WORKERS_VARIABLE, "0")
    alone = _tune(halves, defender, baselines=True, n_trials=6, budget=0.1)
    assert worker_count(8, busy_here=True) == 0
    pd.testing.assert_frame_equal(with_workers.front, alone.front, check_exact=True)
    pd.testing.assert_frame_equal(with_workers.trials, alone.trials, check_exact=True)
    baselines = [name for name in DEFENSES if name not in ("undefended", "dynanoise")]
    assert list(with_workers.front.family.drop_duplicates()) == ["undefended", "dynanoise", *baselines]


def test_pareto_mask_keeps_exactly_the_non_dominated_points():
    drop = np.array([0.0, 0.0, 0.01, 0.02, 0.02, 0.03])
    metric = np.array([0.60, 0.55, 0.50, 0.50, 0.56, 0.40])
    assert pareto_mask(drop, metric).tolist() == [False, True, True, False, False, True]


def test_baselines_the_defender_cannot_fit_are_left_off_the_front(halves, monkeypatch):
    monkeypatch.setattr(MemGuard, "GRID", ({"distortion_budget": 1.0},))
    result = _tune(halves, DefenderData(), baselines=True, n_trials=2, budget=1.0)
    assert set(result.front.family) == set(DEFENSES) - {"hamp", "memguard"}


@pytest.mark.parametrize(
    ("objective", "budget", "placed"),
    [("midput", 0.0, "over"), ("midput", 0.1, "within"), ("worst_case_advantage", 0.1, "within")],
)
def test_the_tuning_conclusion_states_the_chosen_setting_and_its_evaluation_split_cost(
    halves, defender, objective, budget, placed
):
    result = _tune(halves, defender, budget=budget, n_trials=12, objective=objective)
    provenance = {"run_name": "r", **result.summary()}
    evaluation = result.chosen_metrics()["evaluation"]
    undefended = result.front[(result.front.family == "undefended") & (result.front.split == "evaluation")]
    sentence = tuning_conclusion(result.front, provenance)
    best = "highest" if objective == "midput" else "lowest"
    assert sentence.startswith(
        f"Chosen DynaNoise: {result.chosen.label}, the {best} {objective} within the budget among 12 trials "
    )
    assert (evaluation["accuracy_drop"] > budget) == (placed == "over")  # the case this budget makes
    assert f"accuracy drop {evaluation['accuracy_drop']:+.4f} ({placed} the budget of {budget:g})" in sentence
    value, base = evaluation[objective], undefended[objective].iloc[0]
    assert f"{objective} {value:+.4f} (undefended {base:+.4f})." in sentence


@pytest.mark.parametrize(
    ("ranges", "at_an_edge"),
    [({"sigma0_sq_range": (0.0, 0.2)}, True), ({"temperature_range": (1.0, 30.0)}, False)],
)  # on these logits, more noise is better up to sigma0_sq = 0.2 within a budget of 0.1
def test_a_chosen_value_in_the_top_tenth_of_its_range_is_named_as_possibly_short_of_the_best(
    halves, defender, ranges, at_an_edge
):
    result = _tune(halves, defender, budget=0.1, n_trials=12, **ranges)
    provenance = result.summary()
    sentence = tuning_conclusion(result.front, provenance)
    edges = []
    for name, (low, high) in provenance["ranges"].items():
        assert (low, high) == ranges.get(f"{name}_range", getattr(TuneConfig(), f"{name}_range"))
        value = getattr(result.chosen, name)
        named = f"{name} = {value:g} lies in the top 10% of tune.{name}_range [{low:g}, {high:g}]"
        edges.append(value >= high - 0.1 * (high - low))
        assert (named in sentence) == edges[-1]
    assert any(edges) == at_an_edge == sentence.endswith("a wider range would search.")
    without_ranges = {k: v for k, v in provenance.items() if k != "ranges"}  # an older parameters file
    assert "lies in the top" not in tuning_conclusion(result.front, without_ranges)


def test_a_defense_with_no_setting_within_the_budget_keeps_its_row_in_the_comparison(
    halves, defender, monkeypatch
):
    monkeypatch.setattr(MemGuard, "GRID", ({"distortion_budget": 1.0},))
    front = _tune(halves, defender, baselines=True, n_trials=4, budget=0.1).front
    over = front.family == "static_noise"  # as if its every grid point had cost more than the budget
    front = front[~(over & (front.split == "evaluation"))].assign(chosen=front.chosen & ~over)
    table = comparison(front, "midput")
    assert table.family.tolist() == list(dict.fromkeys(front.family))  # every defense, in the front's order
    assert table.condition.isna().tolist() == (table.family == "static_noise").tolist()
    assert table[table.family == "static_noise"].drop(columns=["family", "condition"]).isna().all(axis=None)
    _, rows = tuning_rows(front, "midput")
    by_family = {row[0]: row for row in rows}
    assert by_family["static_noise"] == ["static_noise", NO_SETTING, "— / —", "— / —", "— / —"]
    dynanoise = table[table.family == "dynanoise"].iloc[0]
    drops = (dynanoise["accuracy_drop/tuning"], dynanoise["accuracy_drop/evaluation"])
    assert by_family["dynanoise"][2] == " / ".join(f"{v:+.4f}" for v in drops)


def test_candidates_are_scored_on_at_most_trial_points_members_and_non_members_of_the_tuning_part(
    halves, defender
):
    tuning, evaluation = halves  # 60 members, 60 non-members, 200 test points
    config = TuneConfig(trial_points=50)
    scored = scored_points(tuning, config)
    assert (len(scored.members), len(scored.non_members)) == (50, 50)
    assert scored.test is tuning.test and scored.shadow_members is tuning.shadow_members
    for part in ("members", "non_members"):
        assert set(getattr(scored, part).ids) < set(getattr(tuning, part).ids)
    again = scored_points(tuning, config)
    assert list(again.members.ids) == list(scored.members.ids), "seeded by tune.seed"
    assert scored_points(tuning, TuneConfig(trial_points=60)) is tuning

    capped = _tune(halves, defender, trial_points=50)
    assert capped.sizes["tuning"] == {"members": 50, "non_members": 50, "test": 200}
    assert capped.sizes["evaluation"] == {part: len(getattr(evaluation, part)) for part in SPLIT_PARTS}
    on_the_subset = _tune((scored, evaluation), defender)
    pd.testing.assert_frame_equal(capped.trials, on_the_subset.trials)
    pd.testing.assert_frame_equal(capped.front, on_the_subset.front)


def test_a_trial_that_loses_exactly_the_budget_is_within_it(halves, defender):
    drops = _tune(halves, defender, budget=1.0, n_trials=tuning.STARTUP_TRIALS).trials.accuracy_drop
    # k of n test answers lost: float subtraction of the two accuracies can leave k / n a little over itself
    off = [d for d in drops if d > round(d, 10)]
    assert off, "no trial's drop came out of the subtraction over its fraction: the test checks nothing"
    trials = _tune(halves, defender, budget=round(off[0], 10), n_trials=tuning.STARTUP_TRIALS).trials
    at_the_budget = trials[trials.accuracy_drop == off[0]]
    assert len(at_the_budget) and at_the_budget.feasible.all()
    assert not trials[trials.accuracy_drop > off[0] + 1e-6].feasible.any()


def test_a_tuned_setting_without_noise_is_called_no_protection_and_is_undone_by_its_temperature(
    halves, defender
):
    result = _tune(halves, defender, budget=0.1, n_trials=4, sigma0_sq_range=(0.0, 0.0))
    assert tuning.NO_NOISE_NOTE in tuning_conclusion(result.front, result.summary())
    logits = halves[1].test.logits
    released = result.chosen.apply(logits, np.random.default_rng(0))
    undone = softmax(result.chosen.temperature * np.log(released))  # what an attacker who knows T sees
    np.testing.assert_allclose(undone, softmax(logits), rtol=0, atol=1e-12)
    noisy = _tune(halves, defender, budget=0.1, n_trials=4, sigma0_sq_range=(0.1, 0.2))
    assert tuning.NO_NOISE_NOTE not in tuning_conclusion(noisy.front, noisy.summary())

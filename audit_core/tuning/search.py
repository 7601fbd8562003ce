"""Auto-tuning of DynaNoise under an accuracy budget, with every baseline on the same front.

The audit points (members, non-members) and the test set are split once into a *tuning* part and a disjoint
*evaluation* part. Every candidate is scored on the tuning part only (on at most ``trial_points`` members and
as many non-members of it); the chosen setting, and each baseline's best setting, are then confirmed on the
evaluation part, so the reported numbers are not the ones the choice was made on. Candidates reuse the
logits in :class:`~audit_core.audit.signals.Signals`: nothing is retrained inside the loop, and only the
label-only query attacks query the models again.

Objectives (under one attacker knowledge, adaptive by default):

- ``midput``: the paper's score (maximised);
- ``worst_case_advantage``: the strongest attack's ``max_t TPR - FPR`` (minimised);
- ``tpr_at_1pct_fpr``: the strongest attack's TPR at 1% FPR (minimised).

A candidate is feasible when its test-accuracy drop on the tuning part is at most the budget; only feasible
candidates are ever chosen.
"""

import contextlib
import json
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property, partial
from operator import call
from typing import Any, Literal

import numpy as np
import optuna
import pandas as pd

from audit_core.audit.analysis import ConditionEvaluation, analyse_condition, worst_case
from audit_core.audit.evaluation import score_condition
from audit_core.audit.signals import Signals
from audit_core.audit.split import SPLIT_PARTS, scored_points
from audit_core.config import PAPER_CENTRE, PAPER_SETTING, TuneConfig
from audit_core.core.errors import AuditInputError
from audit_core.core.forked import forked_map
from audit_core.core.seeding import derive_key
from audit_core.defenses import DEFENSES, DefenderData, Defense, DynaNoise, Undefended, fit_defense
from audit_core.stats.midput import midput, within_budget
from audit_core.stats.names import HEADLINE_FPR, Metric

TUNED = ("sigma0_sq", "lam", "temperature")
#: Optuna's search steps: the resolution of the paper's sweeps, within the default ranges.
STEPS = {"sigma0_sq": 0.01, "lam": 0.05, "temperature": 0.1}
#: A range narrower than this many of :data:`STEPS` is searched in :data:`FINE_STEPS` steps of its width.
FEWEST_STEPS = 10
FINE_STEPS = 100
#: The paper's v1 one-at-a-time sweeps around PAPER_CENTRE (notes, section 3).
PAPER_SWEEPS = {
    "sigma0_sq": np.round(np.arange(0.10, 0.505, 0.01), 2),
    "lam": np.round(np.arange(2.0, 6.05, 0.1), 1),
    "temperature": np.round(np.arange(2.0, 6.05, 0.1), 1),
}
SPLITS = ("tuning", "evaluation")
METRICS = (
    Metric.ACCURACY,
    Metric.ACCURACY_DROP,
    Metric.MIDPUT,
    Metric.MEAN_ASR,
    Metric.WORST_CASE_ADVANTAGE,
    Metric.TPR_AT_1PCT_FPR,
)
FRONT_COLUMNS = [
    "family",
    "condition",
    "params",
    "split",
    *METRICS,
    "feasible",
    "on_front",
    "chosen",
]


class TuningError(AuditInputError):
    """No candidate met the accuracy budget."""


@dataclass(frozen=True)
class Objective:
    """What the tuner optimises, and which attack metric the front plots against the accuracy drop."""

    name: Metric
    direction: Literal["maximize", "minimize"]
    attack_metric: Metric


OBJECTIVES = {
    objective.name: objective
    for objective in (
        Objective(Metric.MIDPUT, "maximize", Metric.MEAN_ASR),
        Objective(Metric.WORST_CASE_ADVANTAGE, "minimize", Metric.WORST_CASE_ADVANTAGE),
        Objective(Metric.TPR_AT_1PCT_FPR, "minimize", Metric.TPR_AT_1PCT_FPR),
    )
}


@dataclass(frozen=True)
class Attacker:
    """The attacks a candidate is scored against, under one attacker knowledge (as the audit runs them)."""

    attacks: tuple[str, ...]
    knowledge: str
    seed: int  # the run seed
    max_queries: int = 64
    attack_params: dict[str, dict[str, Any]] = field(default_factory=dict)

    def evaluate(self, signals: Signals, defense: Defense) -> ConditionEvaluation:
        """The condition scored under this attacker's knowledge only, analysed without the AUC's bootstrap
        interval and the per-class AUCs (the objectives use neither)."""
        scores = score_condition(
            signals,
            defense,
            self.attacks,
            seed=self.seed,
            knowledge=(self.knowledge,),
            max_queries=self.max_queries,
            attack_params=self.attack_params,
        )
        return analyse_condition(scores, seed=self.seed, bootstrap=False, per_class=False)


@dataclass(frozen=True)
class SplitScorer:
    """Scores defenses on one split against that split's undefended baseline (computed once)."""

    signals: Signals
    attacker: Attacker

    @cached_property
    def baseline(self) -> ConditionEvaluation:
        """The undefended condition on this split."""
        return self.attacker.evaluate(self.signals, Undefended())

    def score(self, defense: Defense) -> dict[str, float]:
        """Accuracy, accuracy drop, MIDPUT, mean ASR, worst-case advantage and TPR at 1% FPR (the last two
        of the strongest attack), over the attacks that ran."""
        undefended = isinstance(defense, Undefended)  # its evaluation is the baseline's, computed once
        evaluation = self.baseline if undefended else self.attacker.evaluate(self.signals, defense)
        knowledge = self.attacker.knowledge
        outcomes = [evaluation.outcome(a, knowledge) for a in evaluation.attacks]
        asr = {o.attack: o.balanced_accuracy.value for o in outcomes}
        base_asr = {a: self.baseline.outcome(a, knowledge).balanced_accuracy.value for a in asr}
        accuracy = evaluation.test_accuracy.value
        score = midput(self.baseline.test_accuracy.value, accuracy, base_asr, asr)
        return {
            Metric.ACCURACY: accuracy,
            Metric.ACCURACY_DROP: score.accuracy_drop,
            Metric.MIDPUT: score.value,
            Metric.MEAN_ASR: float(np.mean(list(asr.values()))),
            Metric.WORST_CASE_ADVANTAGE: worst_case(outcomes, Metric.ADVANTAGE).advantage,
            Metric.TPR_AT_1PCT_FPR: worst_case(outcomes, Metric.TPR_AT_FPR_0_01)
            .tpr_at(HEADLINE_FPR)
            .tpr.value,
        }


@dataclass(frozen=True)
class TuningResult:
    """The chosen DynaNoise, every trial, and the front of DynaNoise and the baselines."""

    chosen: DynaNoise
    trials: pd.DataFrame  # one row per DynaNoise trial, tuning split
    front: pd.DataFrame  # FRONT_COLUMNS: every family's points (tuning) + chosen points (evaluation)
    config: TuneConfig
    sizes: dict[str, dict[str, int]]  # split -> part -> points

    def chosen_metrics(self, family: str = DynaNoise.name) -> dict[str, dict[str, float]]:
        """The chosen point's metrics of ``family`` per split (``tuning``, ``evaluation``)."""
        rows = self.front[(self.front.family == family) & self.front.chosen]
        return {row.split: {m: float(getattr(row, m)) for m in METRICS} for row in rows.itertuples()}

    def summary(self) -> dict[str, Any]:
        """How the parameters were chosen, for the parameters file and the report (JSON-ready)."""
        return {
            "objective": self.config.objective,
            "knowledge": self.config.knowledge,
            "budget": self.config.budget,
            "mode": self.config.mode,
            "n_trials": len(self.trials),
            "seed": self.config.seed,
            "params": {name: getattr(self.chosen, name) for name in TUNED},
            "ranges": None if self.config.mode == "grid" else search_ranges(self.config),
            "split_sizes": self.sizes,
            "metrics": self.chosen_metrics(),
        }


def comparison_metrics(objective: str) -> list[str]:
    """The metrics a comparison shows: accuracy drop, the objective, and the front's attack metric."""
    return list(dict.fromkeys([Metric.ACCURACY_DROP, objective, OBJECTIVES[objective].attack_metric]))


def comparison(front: pd.DataFrame, objective: str) -> pd.DataFrame:
    """Per defense (``family``) on the front, its chosen ``condition`` and, for each split, the
    :func:`comparison_metrics` in columns ``"<metric>/<split>"``; a defense with no setting within the budget
    keeps its row, with a missing condition and NaN metrics."""
    rows = []
    for family, group in front.groupby("family", sort=False):
        by_split = group[group.chosen].set_index("split")
        condition = None if by_split.empty else by_split.condition.iloc[0]
        row: dict[str, Any] = {"family": family, "condition": condition}
        for metric in comparison_metrics(objective):
            row |= {f"{metric}/{s}": by_split[metric].get(s, np.nan) for s in SPLITS}
        rows.append(row)
    return pd.DataFrame(rows)


def _dynanoise(params: dict[str, float], config: TuneConfig, seed: int) -> DynaNoise:
    return DynaNoise(**params, noise_mode=config.noise_mode, key=derive_key(seed, "dynanoise"))


def tidy(value: float) -> float:
    """``value`` to 10 significant digits: 1.7000000000000002 is reported (and applied) as 1.7."""
    return float(f"{value:.10g}")


def _key(params: dict[str, float]) -> tuple[float, ...]:
    """A setting as a key: the tuned parameters, rounded as the trials report them."""
    return tuple(tidy(params[n]) for n in TUNED)


def search_step(name: str, bounds: tuple[float, float]) -> float:
    """The search step of parameter ``name`` over ``bounds``: :data:`STEPS`' where the range spans at least
    :data:`FEWEST_STEPS` of them, else the range's width over :data:`FINE_STEPS` (so that
    ``sigma0_sq_range: [0, 1e-05]`` is searched, not collapsed to its low end)."""
    width = bounds[1] - bounds[0]
    if width <= 0 or width >= FEWEST_STEPS * STEPS[name]:
        return STEPS[name]
    return float(f"{width / FINE_STEPS:.6g}")


def search_ranges(config: TuneConfig) -> dict[str, tuple[float, float]]:
    """Each tuned parameter's search range."""
    return {name: getattr(config, f"{name}_range") for name in TUNED}


#: A chosen value within this share of its range's width from the range's top may be short of the best.
EDGE_SHARE = 0.1


#: What a tuned DynaNoise without noise is, and why its lower AUCs are no protection.
NO_NOISE_NOTE = (
    "A sigma0_sq of 0 adds no noise: this DynaNoise is softmax(z / T) alone, which an attacker who knows T "
    "undoes exactly (T * log p gives back the logits up to a constant); the attacks here read its outputs as "
    "they are, so the lower AUCs they read through it are no protection."
)


def choice_notes(params: dict[str, float], ranges: dict[str, tuple[float, float]] | None) -> str:
    """What to know about a tuned setting, in sentences: each chosen parameter in the top
    :data:`EDGE_SHARE` of its search range (a better setting may lie beyond; no range was searched in grid
    mode), and :data:`NO_NOISE_NOTE` where it adds no noise; empty where neither applies."""
    near = [
        f"{n} = {params[n]:g} lies in the top {EDGE_SHARE:.0%} of tune.{n}_range [{low:g}, {high:g}]"
        for n, (low, high) in (ranges or {}).items()
        if high > low and params[n] >= high - EDGE_SHARE * (high - low)
    ]
    notes = []
    if near:
        notes.append(f"{'; '.join(near)}: a better setting may lie beyond, which a wider range would search.")
    if params["sigma0_sq"] == 0:
        notes.append(NO_NOISE_NOTE)
    return " ".join(notes)


def _inside(point: dict[str, float], config: TuneConfig) -> bool:
    ranges = search_ranges(config)
    return all(ranges[n][0] <= point[n] <= ranges[n][1] for n in TUNED)


def paper_grid() -> list[dict[str, float]]:
    """The paper's one-at-a-time sweeps: each parameter swept with the others at the centre (no repeats)."""
    points = [dict(PAPER_CENTRE)]
    for name, values in PAPER_SWEEPS.items():
        points += [{**PAPER_CENTRE, name: float(v)} for v in values if not np.isclose(v, PAPER_CENTRE[name])]
    return points


Evaluate = Callable[[dict[str, float]], tuple[float, float]]  # params -> (objective value, drop - budget)
#: Trials Optuna's TPE draws at random before it models the scores (its default): none depends on a score.
STARTUP_TRIALS = 10


class GridSearch:
    """The paper's one-at-a-time sweeps, every point (``n_trials`` and the search ranges do not apply); all
    are ``known`` before any is scored."""

    def __init__(self, config: TuneConfig) -> None:
        self.known = paper_grid()
        self.trials = len(self.known)

    def run(self, evaluate: Evaluate) -> None:
        for point in self.known:
            evaluate(point)


@contextlib.contextmanager
def _quiet_optuna() -> Iterator[None]:
    """Optuna logs every trial at INFO; the trial table records them, so log warnings only meanwhile. The
    paper's setting, tried first, may lie between the steps of a narrow range: Optuna's warning that it
    is off them is expected, and not shown."""
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Fixed parameter .* is out of range", module="optuna")
            yield
    finally:
        optuna.logging.set_verbosity(verbosity)


class OptunaSearch:
    """A seeded, constrained TPE study of ``n_trials`` trials; the paper's best setting is tried first.

    Its first :data:`STARTUP_TRIALS` trials (the paper's setting, then random draws) depend on no score, so
    they are drawn at once: ``known``, to be scored side by side before :meth:`run`. Drawn before any is told,
    they are the trials drawn one after another (TPE draws at random while fewer than that many are complete).
    """

    def __init__(self, config: TuneConfig) -> None:
        self.config = config
        self.trials = config.n_trials
        sampler = optuna.samplers.TPESampler(seed=config.seed, n_startup_trials=STARTUP_TRIALS)
        with _quiet_optuna():
            self.study = optuna.create_study(
                direction=OBJECTIVES[config.objective].direction, sampler=sampler
            )
            if _inside(PAPER_SETTING, config):  # the paper's best setting is the first trial
                self.study.enqueue_trial(dict(PAPER_SETTING))
            self.drawn = [self._ask() for _ in range(min(STARTUP_TRIALS, config.n_trials))]
        self.known = [params for _, params in self.drawn]

    def run(self, evaluate: Evaluate) -> None:
        with _quiet_optuna():
            for trial, params in self.drawn:
                self._tell(trial, params, evaluate)
            for _ in range(self.config.n_trials - len(self.drawn)):
                self._tell(*self._ask(), evaluate)

    def _ask(self) -> tuple[optuna.Trial, dict[str, float]]:
        trial = self.study.ask()
        ranges = search_ranges(self.config)
        params = {
            name: tidy(trial.suggest_float(name, *ranges[name], step=search_step(name, ranges[name])))
            for name in TUNED
        }
        return trial, params

    def _tell(self, trial: optuna.Trial, params: dict[str, float], evaluate: Evaluate) -> None:
        value, excess = evaluate(params)
        trial.set_constraint("accuracy_drop_over_budget", excess)
        self.study.tell(trial, value)


SEARCHES: dict[str, type[GridSearch] | type[OptunaSearch]] = {"optuna": OptunaSearch, "grid": GridSearch}


def _best(frame: pd.DataFrame, objective: Objective) -> int | None:
    """Index of the best feasible row (ties: smaller accuracy drop, then earlier row); None if none."""
    feasible = frame[frame.feasible]
    if feasible.empty:
        return None
    ascending = objective.direction == "minimize"
    ranked = feasible.assign(_order=np.arange(len(feasible))).sort_values(
        [objective.name, Metric.ACCURACY_DROP, "_order"], ascending=[ascending, True, True], kind="stable"
    )
    return int(ranked.index[0])


def pareto_mask(accuracy_drop: np.ndarray, attack_metric: np.ndarray) -> np.ndarray:
    """True for points no other point beats on both (lower accuracy drop, lower attack metric)."""
    drop, metric = np.asarray(accuracy_drop, float), np.asarray(attack_metric, float)
    no_worse = (drop[None, :] <= drop[:, None]) & (metric[None, :] <= metric[:, None])
    better = (drop[None, :] < drop[:, None]) | (metric[None, :] < metric[:, None])
    return ~(no_worse & better).any(axis=1)


def _row(family: str, defense: Defense, split: str, metrics: dict[str, float], budget: float) -> dict:
    return {
        "family": family,
        "condition": defense.label,
        "params": json.dumps(defense.params(), sort_keys=True, default=str),
        "split": split,
        **metrics,
        "feasible": within_budget(metrics[Metric.ACCURACY_DROP], budget),
    }


def _baseline_grids(defender: DefenderData, config: TuneConfig, seed: int) -> dict[str, list[Defense]]:
    """Every baseline the defender can fit (not DynaNoise), at each point of its grid, fitted."""
    return {
        name: [fit_defense(cls(**params), defender, seed) for params in cls.GRID]
        for name, cls in DEFENSES.items()
        if name not in (Undefended.name, DynaNoise.name) and not defender.missing(cls.requires)
    }


@dataclass(frozen=True)
class FamilyFront:
    """One family's rows of the front: its points on the tuning split (``on_front``, ``chosen``) and, when a
    point is within the budget, the chosen one's row on the evaluation split."""

    tuning: pd.DataFrame
    evaluation: dict[str, Any] | None

    def rows(self) -> list[dict[str, Any]]:
        """The family's rows of the front, in FRONT_COLUMNS' order of splits."""
        return self.tuning.to_dict("records") + ([] if self.evaluation is None else [self.evaluation])


def family_front(
    family: str,
    points: list[tuple[Defense, dict[str, float]]],
    config: TuneConfig,
    on_evaluation: SplitScorer,
    pick: int | None = None,
) -> FamilyFront:
    """The front's rows of ``family``'s scored ``points``: its pick (``pick``, or its best feasible point)
    confirmed on the evaluation split."""
    objective = OBJECTIVES[config.objective]
    frame = pd.DataFrame([_row(family, d, "tuning", m, config.budget) for d, m in points])
    frame["on_front"] = pareto_mask(frame.accuracy_drop, frame[objective.attack_metric])
    pick = _best(frame, objective) if pick is None else pick
    frame["chosen"] = frame.index == pick
    if pick is None:
        return FamilyFront(frame, None)
    picked = points[pick][0]
    row = _row(family, picked, "evaluation", on_evaluation.score(picked), config.budget)
    return FamilyFront(frame, {**row, "on_front": False, "chosen": True})


def _baseline_front(
    family: str,
    defenses: list[Defense],
    config: TuneConfig,
    on_tuning: SplitScorer,
    on_evaluation: SplitScorer,
) -> FamilyFront:
    """A baseline's whole grid scored on the tuning split and its pick confirmed: one job, for one worker."""
    return family_front(family, [(d, on_tuning.score(d)) for d in defenses], config, on_evaluation)


def _searches_per_answer(job: partial) -> bool:
    """Whether ``job`` is a baseline whose grid searches per answer (MemGuard's): the costliest, started
    first."""
    return job.func is _baseline_front and any(defense.searches_per_answer for defense in job.args[1])


def logit_gap(logits: np.ndarray, share: float) -> float:
    """The gap between each record's two largest logits that ``share`` of the records have at most: noise
    that moves logits that far changes about that share of the labels."""
    top_two = np.partition(logits, -2, axis=1)[:, -2:]
    return float(np.quantile(top_two[:, 1] - top_two[:, 0], share))


def _smallest_noise(config: TuneConfig) -> float:
    """The smallest noise variance above 0 that the search tries (grid mode: the paper's grid)."""
    if config.mode == "grid":
        return min(point["sigma0_sq"] for point in paper_grid())
    low, high = config.sigma0_sq_range
    return low if low > 0 else min(search_step("sigma0_sq", (low, high)), high)


def _advice(config: TuneConfig, test_logits: np.ndarray) -> str:
    """What to change when no setting is within the budget: where the smallest noise searched is larger than
    the gap between the two largest logits of twice the budget's share of the test records (so it changes
    more labels than the budget allows), a range on the gap's scale; else a larger budget or range."""
    smallest, share = _smallest_noise(config), min(2 * config.budget, 0.5)
    gap = logit_gap(test_logits, share)
    if share == 0 or smallest == 0 or gap == 0 or np.sqrt(smallest) <= gap:
        random = config.mode == "optuna" and config.n_trials <= STARTUP_TRIALS
        more = f", or run more than {STARTUP_TRIALS} trials (the first {STARTUP_TRIALS} are drawn at random)"
        return f"raise the budget or widen the search ranges{more if random else ''}"
    return (
        f"the noise searched is larger than this model's logits are apart: the smallest variance tried above "
        f"0 ({smallest:g}, standard deviation {np.sqrt(smallest):.2g}) is noise larger than the gap between "
        f"the two largest logits of {100 * share:g}% of the {len(test_logits)} test records ({gap:.2g} or "
        f"less), and so changes their labels; search variances up to the square of twice that gap, e.g. "
        f"tune.sigma0_sq_range: [0, {float(f'{(2 * gap) ** 2:.1g}'):g}]"
    )


def _trial_table(
    trial_rows: list[dict], config: TuneConfig, test_logits: np.ndarray
) -> tuple[pd.DataFrame, int]:
    """The DynaNoise trials as a table (``feasible``, ``chosen``) and the chosen trial's index; TuningError
    when none is within the budget (with a range to search where the noise searched is larger than the
    logits of ``test_logits`` are apart)."""
    trials = pd.DataFrame(trial_rows)
    trials["feasible"] = within_budget(trials.accuracy_drop, config.budget)
    best = _best(trials, OBJECTIVES[config.objective])
    if best is None:
        raise TuningError(
            f"No DynaNoise setting among {len(trials)} trials kept the accuracy drop within tune.budget = "
            f"{config.budget} (smallest drop {trials.accuracy_drop.min():.4f}); "
            f"{_advice(config, test_logits)}."
        )
    trials["chosen"] = trials.index == best
    return trials, best


def tune(
    tuning: Signals,
    evaluation: Signals,
    defender: DefenderData,
    config: TuneConfig,
    against: Attacker,
    on_trial_done: Callable[[int, int], None] | None = None,
) -> TuningResult:
    """Choose DynaNoise's (sigma0_sq, lam, T) on ``tuning`` (the points
    :func:`~audit_core.audit.split.scored_points` keeps of it); put every baseline's grid on the same front;
    confirm each family's chosen point on ``evaluation``. ``against.seed`` (the run seed) seeds the noise
    draws, so the confirmed numbers equal the audit's for the same condition. ``on_trial_done(done,
    total)`` reports each DynaNoise trial scored.

    The trials Optuna draws before any score are scored on every core; then the DynaNoise trials run here
    while the workers take the baselines, each family's grid, pick and confirmation as one job."""
    objective = OBJECTIVES[config.objective]
    seed = against.seed
    tuning = scored_points(tuning, config)
    on_tuning = SplitScorer(tuning, against)
    on_evaluation = SplitScorer(evaluation, against)
    seen: dict[tuple[float, ...], dict[str, float]] = {}
    trial_rows: list[dict] = []

    def evaluate(params: dict[str, float]) -> tuple[float, float]:
        key = _key(params)
        if key not in seen:
            seen[key] = on_tuning.score(_dynanoise(params, config, seed))
        metrics = seen[key]
        trial_rows.append({"trial": len(trial_rows), **params, **metrics})
        report(len(trial_rows), search.trials)
        return metrics[objective.name], metrics[Metric.ACCURACY_DROP] - config.budget

    report = on_trial_done or (lambda done, total: None)
    search = SEARCHES[config.mode](config)
    report(0, search.trials)
    baselines = _baseline_grids(defender, config, seed) if config.baselines else {}
    known = len(search.known)
    jobs = [partial(on_tuning.score, _dynanoise(params, config, seed)) for params in search.known]
    jobs += [
        partial(_baseline_front, name, defenses, config, on_tuning, on_evaluation)
        for name, defenses in baselines.items()
    ]
    for scorer in (on_tuning, on_evaluation):
        scorer.baseline  # noqa: B018 (computed before the workers fork, so that they inherit it)
    with forked_map(call, jobs, busy_here=True, costly=_searches_per_answer, first=known) as done:
        for params, metrics in zip(search.known, done(known), strict=True):  # on every core
            seen.setdefault(_key(params), metrics)
        search.run(evaluate)  # here, while the workers take the baselines
        trials, best = _trial_table(trial_rows, config, tuning.test.logits)
        points = [
            (_dynanoise({n: float(r[n]) for n in TUNED}, config, seed), {m: float(r[m]) for m in METRICS})
            for r in trials.to_dict("records")
        ]
        fronts = {
            Undefended.name: family_front(
                Undefended.name, [(Undefended(), on_tuning.score(Undefended()))], config, on_evaluation
            ),
            DynaNoise.name: family_front(DynaNoise.name, points, config, on_evaluation, best),
            **dict(zip(baselines, done()[known:], strict=True)),
        }
    sizes = {
        split: {part: len(getattr(s, part)) for part in SPLIT_PARTS}
        for split, s in zip(SPLITS, (tuning, evaluation), strict=True)
    }
    rows = [row for front in fronts.values() for row in front.rows()]
    return TuningResult(points[best][0], trials, pd.DataFrame(rows)[FRONT_COLUMNS], config, sizes)

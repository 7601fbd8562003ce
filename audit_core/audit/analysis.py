"""Analysis: membership scores, from dynaudit's attacks or any other tool's, turned into metrics.

Scoring (:mod:`audit_core.audit.evaluation`) yields :class:`ConditionScores`; :func:`analyse_condition`
turns them into a :class:`ConditionEvaluation`, and :func:`analyse_scores` turns a long table of scores into
``metrics.parquet`` rows. :func:`worst_case` and :func:`worst_case_row` pick the strongest attack, for every
consumer alike: the first maximal one (as ``max`` and ``idxmax`` do), NaN ignored.

Example, another tool's scores (one row per record and attack)::

    scores = pd.DataFrame({"condition": "undefended", "knowledge": "naive", "attack": "loss",
                           "is_member": [True, True, False, False], "score": [0.9, 0.4, 0.5, 0.1]})
    metrics = analyse_scores(scores)  # AUC 0.75 with its bootstrap interval, TPR at each FPR target, ...
"""

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from audit_core.core.errors import AuditInputError
from audit_core.core.seeding import derive_rng
from audit_core.stats.family import advantage_bounds
from audit_core.stats.metrics import (
    Estimate,
    TprAtFpr,
    auc_score_interval,
    balanced_accuracy,
    crossfit_tpr_at_fpr,
    epsilon_lower_bound,
    max_advantage,
    precision,
    proportion,
    roc_auc,
)
from audit_core.stats.names import FPR_TARGETS, Metric
from audit_core.stats.paired import PairedDrop
from audit_core.stats.two_valued import TwoValuedScores

N_BOOTSTRAP = 1000  # replicates of the AUC's bootstrap interval
METRIC_COLUMNS = [
    "condition",
    "defense",
    "knowledge",
    "attack",
    "slice",
    "metric",
    "value",
    "ci_low",
    "ci_high",
    "note",
]  # metrics.parquet
#: The columns :func:`analyse_scores` needs.
REQUIRED_SCORE_COLUMNS = ("condition", "knowledge", "attack", "is_member", "score")
GROUP = ["condition", "knowledge", "attack"]
#: The counts of audit points an attack's metrics rest on (the last two only for scores of two values).
POINT_COUNTS = (
    Metric.MEMBERS,
    Metric.NON_MEMBERS,
    Metric.MEMBERS_SCORED_HIGH,
    Metric.NON_MEMBERS_SCORED_HIGH,
)


@dataclass(frozen=True)
class AttackScores:
    """What one attack output on one condition under one attacker knowledge: a score per audit point (in the
    condition's order: members first, then non-members) and its calibrated threshold (None if unknown)."""

    condition: str
    knowledge: str
    attack: str
    queries: int
    scores: np.ndarray
    threshold: float | None
    chosen: dict[str, Any] = field(default_factory=dict)  # hyperparameters the attack chose when fitted


@dataclass(frozen=True)
class ConditionScores:
    """Everything scoring a condition yields, no metric computed: the audit points' membership and labels,
    whether the released test answers were right, every attack's scores (one per attack and knowledge, the
    averaging attacker at its largest budget) and the averaging attacker's scores at every budget."""

    condition: str
    defense: str
    params: dict[str, float]
    is_member: np.ndarray
    labels: np.ndarray
    test_correct: np.ndarray
    scores: list[AttackScores] = field(default_factory=list)
    averaging: list[AttackScores] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)


#: How ``metrics.parquet`` names the rows of one true class: ``class=<label>`` (:func:`class_slice`).
CLASS_SLICE = "class="


def class_slice(label: int) -> str:
    """The ``slice`` of a true class's rows."""
    return f"{CLASS_SLICE}{label}"


def slice_class(slice_: str) -> int:
    """The class label of a :func:`class_slice`."""
    return int(slice_.removeprefix(CLASS_SLICE))


@dataclass(frozen=True)
class ClassAuc:
    """An attack's AUC on one true class's records, with Newcombe's score interval
    (:func:`~audit_core.stats.metrics.auc_score_interval`), and the class's members and non-members."""

    auc: Estimate
    members: int
    non_members: int


@dataclass(frozen=True)
class AttackOutcome:
    """One attack's result on one condition under one attacker knowledge (the threshold-based metrics are
    None when the scores came without a threshold)."""

    attack: str
    knowledge: str
    queries: int
    scores: np.ndarray  # audit points: members first, then non-members
    threshold: float | None
    members: int
    non_members: int
    auc: Estimate
    balanced_accuracy: Estimate | None
    advantage: float
    tpr_at_fpr: tuple[TprAtFpr, ...]
    precision: Estimate | None
    epsilon_lower_bound: float | None
    per_class_auc: dict[int, ClassAuc]
    two_valued: TwoValuedScores | None = None  # its counts, when the scores take at most two values
    chosen: dict[str, Any] = field(default_factory=dict)  # hyperparameters the attack chose when fitted

    @property
    def auc_note(self) -> str:
        """The AUC row's note: the answers averaged per query (the averaging attacker's budget, whatever
        number of queries the attack sends about a record), the hyperparameters the attack chose itself, and
        the interval's method where it is exact."""
        note = "1 answer per query" if self.queries == 1 else f"{self.queries} answers averaged per query"
        if self.chosen:
            note += "; chosen when fitted: " + ", ".join(f"{k} = {v}" for k, v in self.chosen.items())
        if self.two_valued is not None:
            note += "; exact interval: Clopper-Pearson on the points scored high"
        elif self.auc.value in (0.0, 1.0) and not math.isnan(self.auc.ci_low):
            note += "; score interval (Newcombe): members and non-members are separated, no bootstrap spread"
        return note

    @property
    def advantage_interval(self) -> Estimate:
        """The advantage with its 95% DKW interval on the true largest advantage."""
        bounds = advantage_bounds(self.advantage, self.members, self.non_members, error=0.025)
        return Estimate(self.advantage, bounds.low, bounds.high)

    @property
    def best_accuracy(self) -> float:
        """Balanced accuracy at the best threshold chosen on the evaluated points: an upper bound."""
        return 0.5 * (1 + self.advantage)

    def tpr_at(self, target_fpr: float) -> TprAtFpr:
        """The TPR at one of :data:`FPR_TARGETS`."""
        return next(t for t in self.tpr_at_fpr if t.target_fpr == target_fpr)


@dataclass(frozen=True)
class AveragingPoint:
    """The AUC of one attack when the attacker averages ``queries`` answers per point."""

    attack: str
    queries: int
    auc: float


@dataclass(frozen=True)
class ConditionEvaluation:
    """A condition's test accuracy (and whether each test point was answered right), its attack outcomes,
    the averaging curve and the skipped attacks."""

    condition: str
    defense: str
    params: dict[str, float]
    test_accuracy: Estimate
    test_correct: np.ndarray
    outcomes: list[AttackOutcome] = field(default_factory=list)
    averaging: list[AveragingPoint] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)

    def outcome(self, attack: str, knowledge: str) -> AttackOutcome:
        """The outcome of ``attack`` under ``knowledge``."""
        return next(o for o in self.outcomes if o.attack == attack and o.knowledge == knowledge)

    @property
    def attacks(self) -> list[str]:
        """Attacks that ran, in order."""
        return list(dict.fromkeys(o.attack for o in self.outcomes))


def analyse_attack(
    scores: AttackScores,
    is_member: np.ndarray,
    labels: np.ndarray | None,
    *,
    seed: int,
    bootstrap: bool = True,
    per_class: bool = True,
) -> AttackOutcome:
    """Every metric of one attack's scores; ``bootstrap=False`` gives the AUC as a point estimate (NaN
    interval) and ``per_class=False`` leaves the per-class AUCs out, what a tuning loop needs. The bootstrap
    draws and the TPR's cross-fitting halves derive from ``seed`` and the attack's name. Scores of at most
    two values get the AUC's exact interval, not the bootstrap's (:mod:`audit_core.stats.two_valued`)."""
    values, is_member = scores.scores, np.asarray(is_member, dtype=bool)
    rng = derive_rng(seed, "bootstrap", scores.attack)
    halves = derive_rng(seed, "tpr-halves", scores.attack)
    per_class_auc = {}
    for c in [] if labels is None or not per_class else np.unique(labels):
        in_class = labels == c
        members = int(is_member[in_class].sum())
        non_members = int(in_class.sum()) - members
        if members and non_members:
            auc = roc_auc(values[in_class], is_member[in_class], n_bootstrap=0).value
            per_class_auc[int(c)] = ClassAuc(
                auc_score_interval(auc, members, non_members), members, non_members
            )
    decided = scores.threshold is not None
    decisions = values >= scores.threshold if decided else None
    two_valued = TwoValuedScores.of(values, is_member)
    replicates = N_BOOTSTRAP if bootstrap and two_valued is None else 0
    auc = roc_auc(values, is_member, n_bootstrap=replicates, rng=rng)
    if bootstrap and two_valued is not None:
        exact = two_valued.estimate()
        auc = Estimate(auc.value, exact.ci_low, exact.ci_high)
    elif replicates and auc.value in (0.0, 1.0):  # separated: every replicate is too, the interval [1, 1]
        auc = auc_score_interval(auc.value, int(is_member.sum()), int((~is_member).sum()))
    return AttackOutcome(
        attack=scores.attack,
        knowledge=scores.knowledge,
        queries=scores.queries,
        scores=values,
        threshold=scores.threshold,
        members=int(is_member.sum()),
        non_members=int((~is_member).sum()),
        auc=auc,
        balanced_accuracy=balanced_accuracy(decisions, is_member) if decided else None,
        advantage=max_advantage(values, is_member),
        tpr_at_fpr=tuple(crossfit_tpr_at_fpr(values, is_member, f, rng=halves) for f in FPR_TARGETS),
        precision=precision(decisions, is_member) if decided else None,
        epsilon_lower_bound=epsilon_lower_bound(decisions, is_member) if decided else None,
        per_class_auc=per_class_auc,
        two_valued=two_valued,
        chosen=scores.chosen,
    )


def analyse_condition(
    condition: ConditionScores, *, seed: int, bootstrap: bool = True, per_class: bool = True
) -> ConditionEvaluation:
    """A condition's metrics from its scores: test accuracy, every attack's outcome (see
    :func:`analyse_attack`, with ``bootstrap`` and ``per_class``) and the averaging attacker's AUC at every
    query budget."""
    is_member, labels = condition.is_member, condition.labels
    return ConditionEvaluation(
        condition=condition.condition,
        defense=condition.defense,
        params=condition.params,
        test_accuracy=proportion(condition.test_correct),
        test_correct=np.asarray(condition.test_correct, dtype=bool),
        outcomes=[
            analyse_attack(s, is_member, labels, seed=seed, bootstrap=bootstrap, per_class=per_class)
            for s in condition.scores
        ],
        averaging=[
            AveragingPoint(s.attack, s.queries, roc_auc(s.scores, is_member, n_bootstrap=0).value)
            for s in condition.averaging
        ],
        skipped=condition.skipped,
    )


MetricRow = tuple[str, Metric, float, float, float, str | None]


def metric_row(
    metric: Metric, value: Estimate | float, note: str | None = None, slice_: str = "all"
) -> MetricRow:
    """``(slice, metric, value, ci_low, ci_high, note)`` of one ``metrics.parquet`` row (a plain number has
    a NaN interval)."""
    est = value if isinstance(value, Estimate) else Estimate(float(value), math.nan, math.nan)
    return slice_, metric, est.value, est.ci_low, est.ci_high, note


def with_member_counts(values: pd.DataFrame, metrics: pd.DataFrame) -> pd.DataFrame:
    """Rows ``values`` of a metrics frame with columns ``members`` and ``non_members``: the audit points
    their attack's metrics were computed on (a class's, for a class's rows), read from ``metrics``'s rows of
    those names (absent when it has none); and, where some attack's scores took at most two values,
    ``members_scored_high`` and ``non_members_scored_high`` (NaN for the other attacks)."""
    counts = metrics[metrics.metric.isin(POINT_COUNTS)]
    by = [*GROUP, "slice"]  # a class's rows have the class's counts
    return values.join(counts.pivot_table(index=by, columns="metric", values="value"), on=by)


def drop_rows(drop: PairedDrop) -> list[MetricRow]:
    """A defended condition's accuracy drop (95% interval) and the counts its bounds come from, as
    :func:`metric_row` rows; the gate recomputes the bounds at its own error from the counts."""
    return [
        metric_row(
            Metric.ACCURACY_DROP, drop.estimate(), "exact: Clopper-Pearson on lost and gained answers"
        ),
        metric_row(Metric.ANSWERS_LOST, drop.lost),
        metric_row(Metric.ANSWERS_GAINED, drop.gained),
        metric_row(Metric.TEST_POINTS, drop.points),
    ]


def outcome_rows(outcome: AttackOutcome) -> list[MetricRow]:
    """The outcome's :func:`metric_row` rows, in ``metrics.parquet`` order (the metrics it lacks left out)."""
    rows: list[MetricRow] = []

    def add(metric: Metric, value: Estimate | float | None, note: str | None = None, slice_: str = "all"):
        if value is not None:
            rows.append(metric_row(metric, value, note, slice_))

    o = outcome
    add(Metric.AUC, o.auc, note=o.auc_note)
    add(Metric.BALANCED_ACCURACY, o.balanced_accuracy)
    add(Metric.BEST_ACCURACY, o.best_accuracy, note="upper bound")
    add(Metric.ADVANTAGE, o.advantage_interval, note="largest over thresholds; DKW interval")
    add(Metric.PRECISION, o.precision)
    add(Metric.EPSILON_LOWER_BOUND, o.epsilon_lower_bound, note="CP 95%, delta=0")
    add(Metric.THRESHOLD, o.threshold)
    for t in o.tpr_at_fpr:
        flag = "threshold from the other half's non-members; interval from order statistics of all of them"
        if not t.resolved:
            flag = f"unresolved: fewer than {1 / t.target_fpr:g} non-members in each cross-fitting half"
        add(Metric.tpr_at_fpr(t.target_fpr), t.tpr, note=flag)
        add(Metric.achieved_fpr_at(t.target_fpr), t.achieved_fpr)
    add(Metric.MEMBERS, o.members)
    add(Metric.NON_MEMBERS, o.non_members)
    if o.two_valued is not None:
        add(Metric.MEMBERS_SCORED_HIGH, o.two_valued.members_high)
        add(Metric.NON_MEMBERS_SCORED_HIGH, o.two_valued.non_members_high)
    for c, in_class in o.per_class_auc.items():
        add(Metric.AUC, in_class.auc, note="score interval (Newcombe)", slice_=class_slice(c))
        add(Metric.MEMBERS, in_class.members, slice_=class_slice(c))
        add(Metric.NON_MEMBERS, in_class.non_members, slice_=class_slice(c))
    return rows


def metric_value(outcome: AttackOutcome, metric: Metric) -> float:
    """An outcome's value of ``metric`` over all its points (NaN where it has none, e.g. no threshold)."""
    values = {m: v for s, m, v, *_ in outcome_rows(outcome) if s == "all"}
    return values.get(metric, math.nan)


def _first_max(values: Sequence[float]) -> int | None:
    """Position of the first largest of ``values``, NaN ignored; None if there is none."""
    values = np.asarray(values, dtype=np.float64)
    return None if np.isnan(values).all() else int(np.nanargmax(values))


def worst_case(
    outcomes: Iterable[AttackOutcome],
    metric: Metric = Metric.AUC,
    *,
    knowledge: str | None = None,
    attack: str | None = None,
) -> AttackOutcome | None:
    """The strongest of ``outcomes`` (optionally only those of one knowledge or attack): the first with the
    largest ``metric``; None if there is none."""
    kept = [
        o
        for o in outcomes
        if (knowledge is None or o.knowledge == knowledge) and (attack is None or o.attack == attack)
    ]
    best = _first_max([metric_value(o, metric) for o in kept])
    return None if best is None else kept[best]


def worst_case_row(rows: pd.DataFrame, by: str = "value") -> pd.Series | None:
    """The first row of a metrics table (already filtered to one metric) with the largest ``by``, NaN
    ignored; None if there is none."""
    best = _first_max(rows[by].to_numpy())
    return None if best is None else rows.iloc[best]


def _group_scores(key: tuple, group: pd.DataFrame) -> AttackScores:
    name = ", ".join(map(str, key))
    if group["is_member"].nunique() != 2:
        raise AuditInputError(f"The scores of {name} need at least one member and one non-member.")
    thresholds = group["threshold"].unique() if "threshold" in group else [None]
    if len(thresholds) != 1:
        raise AuditInputError(f"The scores of {name} have more than one threshold.")
    condition, knowledge, attack = key
    return AttackScores(
        condition=condition,
        knowledge=knowledge,
        attack=attack,
        queries=int(group["queries"].iloc[0]) if "queries" in group else 1,
        scores=group["score"].to_numpy(dtype=np.float64),
        threshold=None if pd.isna(thresholds[0]) else float(thresholds[0]),
    )


def analyse_scores(frame: pd.DataFrame, *, seed: int = 0, bootstrap: bool = True) -> pd.DataFrame:
    """Attack metrics, as ``metrics.parquet`` rows, from a long table of scores (one row per audit point,
    condition, knowledge and attack: columns :data:`REQUIRED_SCORE_COLUMNS`, and optionally ``label`` for
    per-class AUCs, ``threshold`` (empty for none) for the metrics of the attack's hard decisions,
    ``queries`` and ``defense``). ``seed`` is the run seed the bootstrap intervals derive from."""
    missing = [c for c in REQUIRED_SCORE_COLUMNS if c not in frame.columns]
    if missing:
        raise AuditInputError(f"The scores table has no column '{missing[0]}'.")
    rows = []
    for key, group in frame.groupby(GROUP, sort=False):
        labels = group["label"].to_numpy() if "label" in group else None
        outcome = analyse_attack(
            _group_scores(key, group),
            group["is_member"].to_numpy(bool),
            labels,
            seed=seed,
            bootstrap=bootstrap,
        )
        condition, knowledge, attack = key
        defense = group["defense"].iloc[0] if "defense" in group else condition
        rows += [(condition, defense, knowledge, attack, *row) for row in outcome_rows(outcome)]
    return pd.DataFrame(rows, columns=METRIC_COLUMNS)

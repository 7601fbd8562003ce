"""The CI gate: an audit's metrics against a policy's limits, with a stated family-wise false-alarm rate.

Every value a policy compares (each rule x attack x attacker knowledge x condition, and each defended
condition's accuracy drop) gets simultaneous one-sided bounds at ``alpha / m`` for a family of ``m`` values
(:mod:`audit_core.stats.family`). A rule FAILS when some value's lower bound exceeds its limit (so an audit
whose values are all within the limits fails with probability at most ``alpha``), PASSES when every upper
bound is within the limit, and is UNRESOLVED otherwise; the policy's ``unresolved`` says what that does to
the verdict. :func:`check_gate` also compares with a previous run's table, value by value; ``max_regression``
decides on bounds of each matched value's rise, which join the family (docs/statistics.md).

Example:
    >>> policy = GatePolicy(max_auc=0.6)
    >>> from audit_core.gate.inputs import read_metrics
    >>> verdict = check_gate(policy, read_metrics("out/demo/metrics.parquet"), chosen="...")  # doctest: +SKIP
    >>> verdict.passed  # doctest: +SKIP
"""

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from audit_core.attacks import ATTACKS
from audit_core.audit.analysis import CLASS_SLICE, class_slice, with_member_counts
from audit_core.config.policy import ATTACK_LIMITS, CLASS_LIMITS, GatePolicy, Unresolved
from audit_core.core.errors import AuditInputError
from audit_core.stats import family
from audit_core.stats.metrics import Bounds, crossfit_resolved, tpr_at_fpr_bounds
from audit_core.stats.names import HEADLINE_FPR, Metric
from audit_core.stats.paired import PairedDrop
from audit_core.stats.two_valued import TwoValuedScores

Outcome = Literal["pass", "fail", "unresolved"]
Status = Literal["PASSED", "UNRESOLVED", "FAILED"]
CHOSEN_ROLE = "the chosen defense"  # how a run's chosen condition is named when compared with another run
DROP_COUNTS = [Metric.ANSWERS_LOST, Metric.ANSWERS_GAINED, Metric.TEST_POINTS]
#: What reaches a rule's "null" upper bound, where it is not a model that leaks nothing.
NULL_MODELS = {
    "max_accuracy_drop": "a defense that changes no answer",
    "max_regression": "a value measured alike in both runs",
}


@dataclass(frozen=True)
class Measurement:
    """One value the gate compared with a limit: its point estimate, its simultaneous bounds, where it was
    found, and the upper bound a model that leaks nothing would reach with these audit sizes."""

    point: float
    low: float
    high: float
    where: str
    null_high: float


@dataclass(frozen=True)
class RuleResult:
    """One limit, checked over every value it applies to. ``measurement`` is the deciding value: the one
    with the highest lower bound when the rule fails, else the one with the highest upper bound.
    ``too_small``: unresolved because even a model that leaks nothing could not be shown within the limit."""

    rule: str
    limit: float
    outcome: Outcome
    passed: bool
    measurement: Measurement
    values: int
    reason: str
    too_small: bool = False


@dataclass(frozen=True)
class Regression:
    """A limited value present in this run and the previous one (same condition, knowledge and attack)."""

    rule: str
    where: str
    previous: float
    current: float

    @property
    def delta(self) -> float:
        """Current minus previous; positive means more leakage (or a larger accuracy drop)."""
        return self.current - self.previous


@dataclass(frozen=True)
class Comparison:
    """This run against a previous one: matched values, what is new or gone, and warnings."""

    regressions: list[Regression] = field(default_factory=list)
    new: list[str] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class GateVerdict:
    """The gate's decision: the conditions it looked at, every rule, the comparison with a previous run, and
    what the policy's ``unresolved`` made of the rules the audit could not decide."""

    conditions: list[str]
    alpha: float
    family_size: int
    rules: list[RuleResult]
    comparison: Comparison | None = None
    recommendation: str = ""
    sanity: list[str] = field(default_factory=list)  # the audit's sanity warnings (audit/sanity.py)
    unresolved: Unresolved = "warn"  # the policy's

    @property
    def passed(self) -> bool:
        """True when every rule passes (an unresolved rule counts as the policy says): exit code 0."""
        return all(r.passed for r in self.rules)

    @property
    def undecided(self) -> list[RuleResult]:
        """The unresolved rules the verdict counts as passed (``unresolved: warn`` or ``pass``)."""
        return [r for r in self.rules if r.passed and r.outcome == "unresolved"]

    @property
    def warned(self) -> list[RuleResult]:
        """The undecided rules passed with a warning (``unresolved: warn``); none under ``pass``."""
        return self.undecided if self.unresolved == "warn" else []

    @property
    def shown(self) -> int:
        """How many rules were shown to hold."""
        return sum(r.outcome == "pass" for r in self.rules)

    @property
    def status(self) -> Status:
        """FAILED when a rule is broken (or unresolved under ``unresolved: fail``); UNRESOLVED when none is
        but some rule was not decided and ``unresolved: warn`` passes it with a warning; else PASSED."""
        if not self.passed:
            return "FAILED"
        return "UNRESOLVED" if self.warned else "PASSED"

    @property
    def basis(self) -> str:
        """What the decisions rest on, in one clause."""
        return (
            f"family-wise false-alarm rate at most {self.alpha:g} over {self.family_size} values "
            "(Bonferroni bounds)"
        )

    @property
    def headline(self) -> str:
        """One line: the status, the broken and undecided rules, and the decisions' basis."""
        target = ", ".join(self.conditions)
        failed = [r for r in self.rules if not r.passed]
        undecided, shown = self.undecided, self.shown
        total = f"{len(self.rules)} rule{'' if len(self.rules) == 1 else 's'}"
        if failed:
            details = "; ".join(r.reason.removesuffix(".") for r in failed)  # one sentence, clauses
            text = f"FAILED on {target}: {len(failed)} of {total} broken: {details}"
        elif not undecided:
            text = f"PASSED on {target}: {'all ' if len(self.rules) > 1 else ''}{total} shown to hold"
        elif self.unresolved == "warn":
            text = f"UNRESOLVED on {target}: {shown} of {total} shown to hold, none broken"
        else:
            text = f"PASSED on {target}: {shown} of {total} shown to hold"
        if undecided:
            them = _them(undecided)
            counted = (
                f"passes {them} with a warning" if self.unresolved == "warn" else f"counts {them} as passed"
            )
            text += (
                f"; not decided: {', '.join(_undecided_reasons(undecided))}; the policy's "
                f"'unresolved: {self.unresolved}' {counted}"
            )
        return f"{text} ({self.basis})."

    @property
    def warnings(self) -> list[str]:
        """The audit's sanity warnings, a sentence per rule passed with a warning (``unresolved: warn``), and
        the comparison's warnings."""
        lines = [*self.sanity, *(r.reason for r in self.warned)]
        return lines + ([] if self.comparison is None else self.comparison.warnings)

    def summary(self) -> dict[str, Any]:
        """The verdict as plain data (for manifest.json): passed, status, headline, warnings, every rule."""
        return {
            "passed": self.passed,
            "status": self.status,
            "headline": self.headline,
            "warnings": self.warnings,
            **asdict(self),
        }


def _them(items: list) -> str:
    return "them" if len(items) > 1 else "it"


def _undecided_reasons(rules: list[RuleResult]) -> list[str]:
    """The unresolved ``rules`` by why: the audit too small to show them held, or too close to call."""
    small = [r.rule for r in rules if r.too_small]
    close = [r.rule for r in rules if not r.too_small]
    parts = [f"{', '.join(small)} (the audit is too small to show {_them(small)} held)"] if small else []
    return parts + ([f"{', '.join(close)} (too close to call)"] if close else [])


def _select(policy: GatePolicy, metrics: pd.DataFrame, chosen: str | None) -> list[str]:
    labels = metrics[["condition", "defense"]].drop_duplicates("condition")
    defended = labels[labels.condition != "undefended"]
    if policy.condition == "undefended":
        return [c for c in labels.condition if c == "undefended"]
    if policy.condition == "any_defended":
        return list(defended.condition)
    if policy.condition == "chosen":
        return [c for c in defended.condition if c == chosen]
    named = (defended.condition == policy.condition) | (defended.defense == policy.condition)
    return list(defended.condition[named])


def target_conditions(policy: GatePolicy, metrics: pd.DataFrame, chosen: str | None) -> list[str]:
    """The conditions of ``metrics`` the policy's ``condition`` names (see :class:`GatePolicy`)."""
    if policy.condition == "chosen" and chosen is None:
        raise AuditInputError(
            "The policy checks the chosen defense, but the audit has none; aim it at a defense by name."
        )
    found = _select(policy, metrics, chosen)
    if not found:
        name = chosen if policy.condition == "chosen" else policy.condition
        raise AuditInputError(
            f"The metrics have no condition '{name}' for the policy; they have "
            f"{', '.join(dict.fromkeys(metrics.condition))}."
        )
    return found


def _attack_values(metrics: pd.DataFrame, policy: GatePolicy, conditions: list[str], rule: str):
    """The rows ``rule`` limits (every class's for a class limit), with their audit points' counts."""
    per_class = metrics.slice.str.startswith(CLASS_SLICE) if rule in CLASS_LIMITS else metrics.slice == "all"
    keep = per_class & metrics.condition.isin(conditions)
    if policy.knowledge != "strongest":
        keep &= metrics.knowledge == policy.knowledge
    if policy.attacks is not None:
        keep &= metrics.attack.isin(policy.attacks)
    rows = metrics[keep]
    values = with_member_counts(rows[rows.metric == ATTACK_LIMITS[rule]].dropna(subset=["value"]), rows)
    if not values.empty and (Metric.MEMBERS not in values.columns or values[Metric.MEMBERS].isna().any()):
        raise AuditInputError(
            "The metrics have no member counts (rows 'members', 'non_members'); they were written by an "
            "older dynaudit: run the audit again."
        )
    return values


def _drop_values(metrics: pd.DataFrame, conditions: list[str]) -> pd.DataFrame:
    """Each condition's accuracy drop with the counts of answers it lost and gained and of test points."""
    rows = metrics[metrics.condition.isin(conditions)]
    counts = rows[rows.metric.isin(DROP_COUNTS)].pivot_table(
        index="condition", columns="metric", values="value"
    )
    drops = rows[rows.metric == Metric.ACCURACY_DROP].dropna(subset=["value"])
    if not drops.empty and not set(DROP_COUNTS) <= set(counts.columns):
        raise AuditInputError(
            "The metrics have no counts of the answers a defense changed (rows 'answers_lost', "
            "'answers_gained', 'test_points'); they were written by an older dynaudit: run the audit again."
        )
    return drops.join(counts, on="condition")


#: Each (condition, knowledge, attack)'s member and non-member scores: what the TPR's bounds are read from.
Evidence = dict[tuple[str, str, str], tuple[np.ndarray, np.ndarray]]


def score_evidence(scores: pd.DataFrame | None) -> Evidence | None:
    """An audit's scores (``scores.parquet``'s columns) per condition, knowledge and attack; None for none."""
    if scores is None:
        return None
    return {
        key: (group.score[group.is_member].to_numpy(), group.score[~group.is_member].to_numpy())
        for key, group in scores.groupby(["condition", "knowledge", "attack"], sort=False)
    }


def _two_valued(row: Any, members: int, non_members: int) -> TwoValuedScores | None:
    """The counts of an attack whose scores took at most two values, from its metrics row; None for any
    other attack (its AUC's bounds come from the bootstrap interval)."""
    high = [getattr(row, m, math.nan) for m in (Metric.MEMBERS_SCORED_HIGH, Metric.NON_MEMBERS_SCORED_HIGH)]
    if any(pd.isna(h) for h in high):
        return None
    return TwoValuedScores(int(high[0]), members, int(high[1]), non_members)


def _measure(rule: str, row: Any, error: float, evidence: Evidence | None = None) -> Measurement:
    """Bounds of one value at ``error``, and a null model's upper bound at the same error; a TPR's bounds
    come from its scores in ``evidence`` (without them, from its count at the thresholds it was read at)."""
    if rule == "max_accuracy_drop":
        points = int(getattr(row, Metric.TEST_POINTS))
        lost, gained = int(getattr(row, Metric.ANSWERS_LOST)), int(getattr(row, Metric.ANSWERS_GAINED))
        bounds = PairedDrop(lost, gained, points).bounds(error)
        null_high = PairedDrop(0, 0, points).bounds(error).high  # a defense that changed no answer
        where = f"{row.condition}, {lost} of {points} test answers lost and {gained} gained"
        return Measurement(row.value, bounds.low, bounds.high, where, null_high)
    m, n = int(getattr(row, Metric.MEMBERS)), int(getattr(row, Metric.NON_MEMBERS))
    where = f"attack {row.attack}, {row.knowledge} attacker, {row.condition}"
    if rule in CLASS_LIMITS:
        where = f"{where}, {row.slice}"
        bounds = family.any_distribution_auc_bounds(row.value, m, n, error)
        null_high = family.any_distribution_auc_bounds(0.5, m, n, error).high
    elif rule == "max_auc" and (two_valued := _two_valued(row, m, n)) is not None:
        bounds = two_valued.bounds(error)
        null_high = two_valued.leaking_nothing().bounds(error).high
    elif rule == "max_auc" and row.value in (0.0, 1.0):  # separated points: a bootstrap has no spread
        bounds = family.any_distribution_auc_bounds(row.value, m, n, error)
        null_high = family.null_auc_high(m, n, error)
    elif rule == "max_auc":
        bounds = family.auc_bounds(row.value, row.ci_low, row.ci_high, m, n, error)
        null_high = family.null_auc_high(m, n, error)
    elif rule == "max_advantage":
        bounds = family.advantage_bounds(row.value, m, n, error)
        null_high = family.null_advantage_high(m, n, error)
    elif (scores := (evidence or {}).get((row.condition, row.knowledge, row.attack))) is not None:
        bounds = tpr_at_fpr_bounds(*scores, HEADLINE_FPR, error)
        null_high = family.null_tpr_at_fpr_high(m, n, HEADLINE_FPR, error)
    elif crossfit_resolved(n, HEADLINE_FPR):
        bounds = family.proportion_bounds(round(row.value * m), m, error)
        null_high = family.null_tpr_high(m, n, HEADLINE_FPR, error)
    else:  # a half too small to place a threshold at the target FPR: the TPR is not one at 1% FPR at all
        bounds, null_high = Bounds(0.0, 1.0), 1.0
    return Measurement(row.value, bounds.low, bounds.high, f"{where} ({m}/{n} points)", null_high)


def _rule_values(metrics: pd.DataFrame, policy: GatePolicy, conditions: list[str], rule: str) -> pd.DataFrame:
    if rule == "max_accuracy_drop":
        return _drop_values(metrics, conditions)
    return _attack_values(metrics, policy, conditions, rule)


def _decide(rule: str, limit: float, measured: list[Measurement], policy: GatePolicy) -> RuleResult:
    breached = [m for m in measured if m.low > limit]
    if breached:
        worst = max(breached, key=lambda m: m.low)
        reason = (
            f"{rule}: {worst.point:.4f} exceeds {limit:g} ({worst.where}; simultaneous lower bound "
            f"{worst.low:.4f})"
        )
        return RuleResult(rule, limit, "fail", False, worst, len(measured), reason)
    worst = max(measured, key=lambda m: m.high)
    if worst.high <= limit:
        reason = (
            f"{rule}: every value is within {limit:g} (highest upper bound {worst.high:.4f}, {worst.where})"
        )
        return RuleResult(rule, limit, "pass", True, worst, len(measured), reason)
    smallest = max(measured, key=lambda m: m.null_high)
    too_small = smallest.null_high > limit
    if too_small:
        null = NULL_MODELS.get(rule, "a model that leaks nothing")
        reason = (
            f"{rule} is unresolved: the audit is too small to show a value within {limit:g}, even {null} "
            f"would reach an upper bound of {smallest.null_high:.4f} ({smallest.where})."
        )
    else:
        reason = (
            f"{rule} is unresolved: {worst.point:.4f} ({worst.where}) is neither shown above nor below "
            f"{limit:g} (simultaneous bounds {worst.low:.4f} to {worst.high:.4f}); more audit points would "
            "resolve it."
        )
    passed = policy.unresolved != "fail"
    return RuleResult(rule, limit, "unresolved", passed, worst, len(measured), reason, too_small)


def _key(row: Any, chosen: str | None = None) -> str:
    """Where a value was found: condition, knowledge, attack; the run's ``chosen`` condition is named by its
    role, so that a chosen defense tuned anew (another label) is matched with the previous run's."""
    condition = CHOSEN_ROLE if row.condition == chosen else row.condition
    part = None if getattr(row, "slice", "all") == "all" else row.slice  # a class's value names its class
    return ", ".join(str(v) for v in (condition, row.knowledge, row.attack, part) if isinstance(v, str))


Limited = dict[tuple[str, str], Any]  # (rule, "condition, knowledge, attack") -> the metrics row


def _limited(policy: GatePolicy, metrics: pd.DataFrame, chosen: str | None) -> Limited:
    """Every value a limit of ``policy`` applies to in ``metrics``, by rule and where it was found."""
    conditions = _select(policy, metrics, chosen)
    return {
        (rule, _key(row, chosen)): row
        for rule in policy.limits
        for row in _rule_values(metrics, policy, conditions, rule).itertuples()
    }


def _compare(current: Limited, before: Limited, digests: tuple[str | None, str | None]) -> Comparison:
    """This run's limited values against a previous run's, matched by (rule, condition, knowledge, attack):
    a regression only for a value present in both; what is new or gone is listed; differing config
    ``digests`` (this run's, the previous run's) give a warning."""
    regressions = sorted(
        (
            Regression(rule, key, before[rule, key].value, current[rule, key].value)
            for rule, key in current.keys() & before.keys()
        ),
        key=lambda r: (-r.delta, r.rule, r.where),
    )
    new = sorted(f"{rule}: {key}" for rule, key in current.keys() - before.keys())
    gone = sorted(f"{rule}: {key}" for rule, key in before.keys() - current.keys())
    warnings = []
    if None not in digests and digests[0] != digests[1]:
        warnings.append(
            f"The previous run audited another config (digest {digests[1]}, this run {digests[0]}); only "
            "values present in both runs are compared."
        )
    if new or gone:
        warnings.append(
            f"{len(new)} values are new in this run and {len(gone)} are gone since the previous run; no "
            "regression is reported for them."
        )
    return Comparison(regressions, new, gone, warnings)


def _rise(
    rule: str, now: Any, before: Any, error: float, evidence: tuple[Evidence | None, Evidence | None]
) -> Measurement:
    """Bounds on the rise of one value between two runs (``evidence``: each run's scores): each run's bounds
    at half the error, subtracted (valid however the two audits depend on each other)."""
    current = _measure(rule, now, error / 2, evidence[0])
    previous = _measure(rule, before, error / 2, evidence[1])
    where = f"{rule}, {_key(now)}: {previous.point:.4f} -> {current.point:.4f}"
    return Measurement(
        current.point - previous.point,
        current.low - previous.high,
        current.high - previous.low,
        where,
        null_high=(current.high - current.point) + (previous.point - previous.low),  # the same point twice
    )


def _check_rules(
    policy: GatePolicy,
    metrics: pd.DataFrame,
    conditions: list[str],
    regressions: int = 0,
    evidence: Evidence | None = None,
) -> tuple[int, list[RuleResult]]:
    """The family size (``regressions``: matched values a previous run's comparison adds to it) and every
    limit's result on ``conditions`` (``evidence``: the audit's scores)."""
    values = {rule: _rule_values(metrics, policy, conditions, rule) for rule in policy.limits}
    for rule, rows in values.items():
        if rows.empty:
            raise AuditInputError(
                f"The metrics have no values for policy rule '{rule}' on {', '.join(conditions)} (knowledge "
                f"{policy.knowledge}); check the policy against the audit's config."
            )
    size = sum(len(rows) for rows in values.values()) + regressions
    error = policy.alpha / size
    rules = [
        _decide(
            rule, policy.limits[rule], [_measure(rule, r, error, evidence) for r in rows.itertuples()], policy
        )
        for rule, rows in values.items()
    ]
    return size, rules


def recommendation(
    policy: GatePolicy, metrics: pd.DataFrame, chosen: str | None, evidence: Evidence | None = None
) -> str:
    """Where the undefended model is shown to meet every attack limit, one sentence: no defense is needed
    (and what the chosen one would cost). Otherwise two to four: whether the chosen defense meets every rule
    (or breaks none, naming those it was not shown to meet and why; or advises against it where an
    undecided rule's one value measures above its limit), and which defended condition breaks none at the
    smallest accuracy cost (or, when none does, which comes closest). ``evidence``: the audit's scores."""
    labels = list(dict.fromkeys(metrics.condition))
    defended = [c for c in labels if c != "undefended"]
    if not defended:
        return "The audit has no defended condition to recommend."
    drops = metrics[metrics.metric == Metric.ACCURACY_DROP].set_index("condition").value
    if _undefended_meets_every_rule(policy, metrics, evidence):
        text = "No defense is needed: the undefended model is shown to meet every rule of the policy"
        drop = None if chosen is None else drops.get(chosen)
        if drop is not None and drop > 0:
            return f"{text}, and the chosen defense, {chosen}, would lower the test accuracy by {drop:.4f}."
        return f"{text}."
    rules = {c: _check_rules(policy, metrics, [c], evidence=evidence)[1] for c in defended}
    failed = {c: [r.rule for r in rules[c] if not r.passed] for c in defended}
    above = {c: [r for r in rules[c] if _measured_above(r)] for c in defended}
    passing = sorted(
        (c for c in defended if not failed[c]), key=lambda c: (bool(above[c]), drops.get(c, 0.0))
    )

    def cost(condition: str) -> str:
        drop = drops.get(condition)
        return "" if drop is None else f" at an accuracy cost of {drop:+.4f}"

    if chosen in passing:
        unresolved = [r for r in rules[chosen] if r.outcome == "unresolved"]
        within = [c for c in passing if not above[c]]
        if above[chosen]:
            text = (
                f"Do not deploy the chosen defense, {chosen}, on this evidence: it breaks no rule shown, but "
                f"{_measured(above[chosen])}. {_undecided(unresolved)}"
            )
            return (
                f"{text} {within[0]} breaks none and measures within every limit{cost(within[0])}."
                if within
                else text
            )
        standing = "breaks no rule of the policy" if unresolved else "meets every rule of the policy"
        text = f"Deploy the chosen defense, {chosen}: it {standing}{cost(chosen)}."
        if unresolved:  # passed as policy.unresolved says, not shown to hold
            text += f" {_undecided(unresolved)}"
        cheaper = [c for c in within if drops.get(c, 0.0) < drops.get(chosen, 0.0)]
        if cheaper:
            text += f" {cheaper[0]} breaks none either{cost(cheaper[0])}."
        return text
    lead = "" if chosen is None else f"The chosen defense, {chosen}, breaks {', '.join(failed[chosen])}. "
    if passing:
        best = passing[0]
        if above[best]:
            return (
                f"{lead}Of the {len(defended)} audited defenses, {_count(passing)} no rule shown, but "
                f"none measures within every limit: of {best}, which costs least, {_measured(above[best])}. "
                "More audit records would decide."
            )
        shown = all(r.outcome == "pass" for r in rules[best])
        return (
            f"{lead}Of the {len(defended)} audited defenses, {_count(passing)} no rule; deploy {best}, "
            f"which {'meets every rule' if shown else 'breaks none'}{cost(best)}."
        )
    closest = min(defended, key=lambda c: (len(failed[c]), drops.get(c, 0.0)))
    text = (
        f"{lead}No audited defense meets every rule; the closest is {closest}, which breaks "
        f"{', '.join(failed[closest])}{cost(closest)}."
    )
    floor = _label_only_floor(policy, metrics)
    if floor is None:
        return f"{text} Tune DynaNoise against these limits or relax the policy."
    return (
        f"{text} No defense that keeps the predicted class can meet max_auc: on the undefended model, "
        f"{floor.where} reaches {floor.point:.4f} (simultaneous lower bound {floor.low:.4f}) from predicted "
        "classes alone, and such a defense leaves them as they are. Lower the model's own leakage "
        "(regularisation, more training data, differentially private training) or relax max_auc."
    )


def _undefended_meets_every_rule(
    policy: GatePolicy, metrics: pd.DataFrame, evidence: Evidence | None
) -> bool:
    """Whether the undefended model is shown to meet every attack limit of ``policy`` (it changes no answer,
    so it meets an accuracy drop limit); False for a policy of no attack limit, which says nothing of
    privacy, and for metrics without the undefended condition."""
    if not policy.limits.keys() & ATTACK_LIMITS.keys() or "undefended" not in set(metrics.condition):
        return False
    attack_limits = policy.model_copy(update={"max_accuracy_drop": None})
    rules = _check_rules(attack_limits, metrics, ["undefended"], evidence=evidence)[1]
    return all(r.outcome == "pass" for r in rules)


def _count(passing: list[str]) -> str:
    """How many of the defenses break no rule, with the verb: 1 breaks, 3 break."""
    return f"{len(passing)} {'breaks' if len(passing) == 1 else 'break'}"


def _measured(results: list[RuleResult]) -> str:
    """The undecided rules whose one value measures above the limit, as a clause."""
    return "; ".join(
        f"{r.rule} measures {r.measurement.point:.4f} against a limit of {r.limit:g}" for r in results
    )


def _measured_above(result: RuleResult) -> bool:
    """Whether an undecided rule's one value measures above its limit: not shown broken, but no ground to
    deploy on. Only for a rule of one value (a condition's accuracy drop), whose estimate is unbiased; the
    largest of many noisy values (AUCs over attacks) lies above their true values, so it says less."""
    return result.outcome == "unresolved" and result.values == 1 and result.measurement.point > result.limit


def _label_only_floor(policy: GatePolicy, metrics: pd.DataFrame) -> Measurement | None:
    """The undefended model's strongest label-only attack (:attr:`Attack.reads_labels_only`) where it is shown
    above ``max_auc``, decided as the gate decides (over the label-only values alone); else None."""
    undefended = metrics[(metrics.condition == "undefended") & (metrics.metric == Metric.AUC)]
    attacks = [a for a in undefended.attack.unique() if a in ATTACKS and ATTACKS[a].reads_labels_only]
    if policy.max_auc is None or not attacks:
        return None
    floor = GatePolicy(
        max_auc=policy.max_auc, knowledge=policy.knowledge, attacks=attacks, alpha=policy.alpha
    )
    [rule] = _check_rules(floor, metrics, ["undefended"])[1]
    return rule.measurement if rule.outcome == "fail" else None


def _undecided(unresolved: list[RuleResult]) -> str:
    """One sentence on the rules a passing defense was not shown to meet, by why."""
    reasons = " or ".join(_undecided_reasons(unresolved))
    return f"It is not shown to meet {reasons}: more audit records would decide {_them(unresolved)}."


def named_classes(metrics: pd.DataFrame, names: Sequence[str | int] | None) -> pd.DataFrame:
    """``metrics`` with each class slice named, ``class=1`` read ``class=1 (fraud)`` for ``names`` (the data's
    class names in class order); as it is without names."""
    if not names:
        return metrics
    named = {class_slice(i): f"{class_slice(i)} ({name})" for i, name in enumerate(names)}
    return metrics.assign(slice=metrics.slice.map(lambda s: named.get(s, s)))


def check_gate(
    policy: GatePolicy,
    metrics: pd.DataFrame,
    previous: pd.DataFrame | None = None,
    *,
    chosen: str | None = None,
    digests: tuple[str | None, str | None] = (None, None),
    previous_chosen: str | None = None,
    sanity: list[str] | None = None,
    class_names: Sequence[str | int] | None = None,
    scores: tuple[pd.DataFrame | None, pd.DataFrame | None] = (None, None),
) -> GateVerdict:
    """Check every limit of ``policy`` against ``metrics`` on the conditions it aims at (``chosen`` names
    the audit's chosen defense); compare with ``previous`` when given (``digests``: see :func:`_compare`;
    ``previous_chosen``: that run's chosen defense, matched with this run's by role, by default the same
    label); ``sanity``: the audit's sanity warnings, which the verdict repeats; ``class_names``: the data's
    class names (``data.classes``), which the values of a class limit are named by beside the index;
    ``scores``: this run's and the previous run's ``scores.parquet`` tables, which the TPR's bounds are read
    from (without them, the TPR's bounds hold only given the thresholds it was read at)."""
    metrics = named_classes(metrics, class_names)
    previous = None if previous is None else named_classes(previous, class_names)
    conditions = target_conditions(policy, metrics, chosen)
    comparison, matched = None, []
    if previous is not None:
        current = _limited(policy, metrics, chosen)
        before = _limited(policy, previous, previous_chosen or chosen)
        comparison = _compare(current, before, digests)
        if policy.max_regression is not None:
            shared = sorted(current.keys() & before.keys())
            matched = [(rule, current[rule, key], before[rule, key]) for rule, key in shared]
    evidence = (score_evidence(scores[0]), score_evidence(scores[1])) if policy.reads_scores else (None, None)
    size, rules = _check_rules(policy, metrics, conditions, len(matched), evidence[0])
    if matched:
        rises = [_rise(rule, now, then, policy.alpha / size, evidence) for rule, now, then in matched]
        rules.append(_decide("max_regression", policy.max_regression, rises, policy))
    advice = recommendation(policy, metrics, chosen, evidence[0]) if policy.condition != "undefended" else ""
    sanity = list(sanity or [])
    return GateVerdict(conditions, policy.alpha, size, rules, comparison, advice, sanity, policy.unresolved)

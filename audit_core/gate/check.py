"""The CI gate: limits on an audit's metrics, checked against the intervals by default (no Prefect here).

A :class:`GatePolicy` states limits on the worst case over attacks (AUC, advantage, TPR at 1% FPR), on the
defended or undefended condition, under one attacker knowledge or the strongest, and on the test-accuracy
drop a defense costs. :func:`check_gate` turns a metrics table into a :class:`GateVerdict`, one
:class:`RuleResult` per limit, and compares with a previous run's table when given.

Example:
    >>> policy = GatePolicy(max_auc=0.6)
    >>> verdict = check_gate(policy, read_metrics("out/demo/metrics.parquet"))  # doctest: +SKIP
    >>> verdict.passed  # doctest: +SKIP
"""

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from audit_core.audit.analysis import METRIC_COLUMNS, worst_case_row
from audit_core.config import AuditConfig, load_model
from audit_core.config.policy import ATTACK_LIMITS, GatePolicy, policy_mismatch
from audit_core.core.errors import AuditInputError, ConfigError
from audit_core.core.locations import Location, filesystem, parse_location
from audit_core.stats.names import Metric

_BASIS = {"upper_bound": "upper bound of the 95% interval", "point": "point estimate"}


def load_policy(path: str | Path) -> GatePolicy:
    """Read and validate a YAML gate policy."""
    return load_model(GatePolicy, path, "Policy file")


def check_policy(policy: GatePolicy, config: AuditConfig) -> None:
    """Fail before any audit work when ``policy`` asks for numbers ``config``'s audit will not produce."""
    problem = policy_mismatch(policy, config.knowledge, config.attacks, bool(config.defenses))
    if problem is not None:
        raise ConfigError(problem)


def read_metrics(path: Location) -> pd.DataFrame:
    """A dynaudit ``metrics.parquet`` table, local or on an object store (a URL); any other file is an
    :class:`AuditInputError`."""
    fs, fs_path = filesystem(parse_location(path))
    if not fs.isfile(fs_path):
        raise AuditInputError(f"Metrics file '{path}' does not exist; expected a dynaudit metrics.parquet.")
    try:
        with fs.open(fs_path, "rb") as handle:
            frame = pd.read_parquet(handle)
    except Exception:  # pyarrow raises several types for files that are not Parquet
        raise AuditInputError(f"Metrics file '{path}' is not a readable Parquet file.") from None
    missing = [c for c in METRIC_COLUMNS if c not in frame.columns]
    if missing:
        raise AuditInputError(
            f"Metrics file '{path}' has no column '{missing[0]}'; expected a dynaudit metrics.parquet."
        )
    return frame


@dataclass(frozen=True)
class Measurement:
    """The number a limit is compared with, its point estimate, what it is and where it was found."""

    decided: float
    point: float
    basis: str
    where: str


@dataclass(frozen=True)
class RuleResult:
    """One limit of the policy, checked: what was measured, and whether it holds."""

    rule: str
    limit: float
    measurement: Measurement
    passed: bool


@dataclass(frozen=True)
class Regression:
    """A limited metric in this run against the previous run (same policy, same basis)."""

    rule: str
    previous: float
    current: float

    @property
    def delta(self) -> float:
        """Current minus previous; positive means more leakage (or a larger accuracy drop)."""
        return self.current - self.previous


@dataclass(frozen=True)
class GateVerdict:
    """The gate's decision: every rule, and the comparison with a previous run if one was given."""

    decide_on: str
    rules: list[RuleResult]
    regressions: list[Regression] = field(default_factory=list)
    compared: bool = False  # a previous run was given

    @property
    def passed(self) -> bool:
        """True when every rule holds."""
        return all(r.passed for r in self.rules)

    @property
    def headline(self) -> str:
        """One line: PASSED or FAILED, the broken rules, and what the decisions were based on."""
        broken = [r for r in self.rules if not r.passed]
        basis = f"decided on the {_BASIS[self.decide_on]}"
        if not broken:
            return f"PASSED: all {len(self.rules)} rules hold ({basis})."
        details = "; ".join(
            f"{r.rule} {r.measurement.decided:.4f} > {r.limit:g} ({r.measurement.where})" for r in broken
        )
        return f"FAILED: {len(broken)} of {len(self.rules)} rules broken ({basis}): {details}."

    def summary(self) -> dict[str, Any]:
        """The verdict as plain data (for manifest.json): passed, headline, every rule and regression."""
        return {"passed": self.passed, "headline": self.headline, **asdict(self)}


def _attack_rows(metrics: pd.DataFrame, policy: GatePolicy, metric: Metric) -> pd.DataFrame:
    rows = metrics[(metrics.metric == metric) & (metrics.slice == "all")]
    undefended = rows.condition == "undefended"
    rows = rows[undefended] if policy.condition == "undefended" else rows[~undefended]
    if policy.knowledge != "strongest":
        rows = rows[rows.knowledge == policy.knowledge]
    if policy.attacks is not None:
        rows = rows[rows.attack.isin(policy.attacks)]
    return rows


def _decided(value: float, upper: float, decide_on: str) -> tuple[float, str]:
    if decide_on == "point":
        return value, _BASIS["point"]
    if math.isnan(upper):
        return value, "point estimate (the metric has no interval)"
    return upper, _BASIS["upper_bound"]


def _worst_attack(metrics: pd.DataFrame, policy: GatePolicy, metric: Metric) -> Measurement | None:
    rows = _attack_rows(metrics, policy, metric).dropna(subset=["value"])
    decided = [_decided(r.value, r.ci_high, policy.decide_on) for r in rows.itertuples()]
    row = worst_case_row(
        rows.assign(decided=[d for d, _ in decided], basis=[b for _, b in decided]), "decided"
    )
    if row is None:
        return None
    where = f"attack {row.attack}, {row.knowledge} attacker, {row.condition}"
    return Measurement(float(row.decided), float(row.value), row.basis, where)


def _worst_accuracy_drop(metrics: pd.DataFrame, policy: GatePolicy) -> Measurement | None:
    accuracy = metrics[(metrics.metric == Metric.TEST_ACCURACY) & (metrics.slice == "all")]
    baseline = accuracy[accuracy.condition == "undefended"]
    defended = accuracy[accuracy.condition != "undefended"]
    if baseline.empty or defended.empty:
        return None
    base = baseline.iloc[0]
    drops = []
    for row in defended.itertuples():
        point = base.value - row.value
        if policy.decide_on == "point":
            drops.append((point, point, _BASIS["point"], row.condition))
        else:
            upper = base.ci_high - row.ci_low
            basis = "undefended interval's upper bound minus defended interval's lower bound"
            drops.append((upper, point, basis, row.condition))
    decided, point, basis, condition = max(drops)
    return Measurement(float(decided), float(point), basis, condition)


def measure(metrics: pd.DataFrame, policy: GatePolicy, rule: str) -> Measurement | None:
    """The worst case of ``rule``'s metric under the policy's filters; ``None`` if the table has none."""
    if rule == "max_accuracy_drop":
        return _worst_accuracy_drop(metrics, policy)
    return _worst_attack(metrics, policy, ATTACK_LIMITS[rule])


def check_gate(
    policy: GatePolicy, metrics: pd.DataFrame, previous: pd.DataFrame | None = None
) -> GateVerdict:
    """Check every limit of ``policy`` against ``metrics``; compare with ``previous`` when given."""
    rules, regressions = [], []
    for rule, limit in policy.limits.items():
        measurement = measure(metrics, policy, rule)
        if measurement is None:
            raise AuditInputError(
                f"The metrics have no rows for policy rule '{rule}' (condition {policy.condition}, "
                f"knowledge {policy.knowledge}); check the policy against the audit's config."
            )
        rules.append(RuleResult(rule, limit, measurement, measurement.decided <= limit))
        before = None if previous is None else measure(previous, policy, rule)
        if before is not None:
            regressions.append(Regression(rule, before.decided, measurement.decided))
    if policy.max_regression is not None and regressions:
        worst = max(regressions, key=lambda r: r.delta)
        where = f"{worst.rule}: {worst.previous:.4f} -> {worst.current:.4f}"
        rise = Measurement(worst.delta, worst.delta, "largest rise since the previous run", where)
        passed = rise.decided <= policy.max_regression
        rules.append(RuleResult("max_regression", policy.max_regression, rise, passed))
    return GateVerdict(policy.decide_on, rules, regressions, compared=previous is not None)

"""How often each one-sided AUC bound of the gate errs, on simulated attack scores, side by side with the
gate's bounds before. Three bounds per side: the bootstrap's standard error as a margin on the AUC's own scale
("AUC scale", the first gate's); the same standard error on the logit scale ("logit", the gate's until small
audits at high AUCs showed it too narrow); and the gate's now ("the gate"): for continuous scores the more
cautious of the logit bound and Newcombe's score bound (``stats.family.auc_bounds``), for binary scores (a
label-only attack) the exact bounds from the counts (``stats.two_valued``).

    .venv/bin/python benchmarks/auc_bounds.py                 # every scenario, 4000 audits each, 2 processes
    .venv/bin/python benchmarks/auc_bounds.py --runs 10000 --error 0.0125

Each audit draws member and non-member scores with a known true AUC, measures the AUC with its stored
interval exactly as an audit does (``stats.metrics.roc_auc``: stratified percentile bootstrap, 1000
replicates), and asks whether the lower bound lies above the true AUC (a false alarm when the limit is the
truth) and whether the upper bound lies below it (a false pass). Each rate should be at most ``--error``; the
table's last column is three standard errors of a rate at ``--error`` over ``--runs`` audits.
"""

import argparse
import math
from concurrent.futures import ProcessPoolExecutor
from typing import NamedTuple

import numpy as np
from scipy import stats
from threadpoolctl import threadpool_limits

from audit_core.stats.family import auc_bounds, logit_auc_bounds, z_quantile
from audit_core.stats.metrics import Bounds, roc_auc
from audit_core.stats.two_valued import TwoValuedScores


class Scenario(NamedTuple):
    scores: str  # binormal, lognormal, unequal (members' spread twice the non-members'), binary
    auc: float
    members: int
    non_members: int


SCENARIOS = (
    Scenario("binormal", 0.55, 150, 150),
    Scenario("binormal", 0.6, 150, 150),
    Scenario("binormal", 0.6, 50, 50),
    Scenario("binormal", 0.6, 100, 1000),
    Scenario("unequal", 0.6, 150, 150),
    Scenario("lognormal", 0.7, 150, 150),
    Scenario("binormal", 0.8, 150, 150),
    Scenario("binormal", 0.9, 150, 150),
    Scenario("binormal", 0.9, 20, 20),
    Scenario("binormal", 0.95, 30, 30),
    Scenario("unequal", 0.9, 20, 20),
    Scenario("unequal", 0.95, 30, 30),
    Scenario("lognormal", 0.9, 50, 50),
    Scenario("binary", 0.6, 150, 150),
    Scenario("binary", 0.6, 50, 50),
    Scenario("binary", 0.51, 150, 150),
    Scenario("three values", 0.51005, 150, 150),
)
#: Three-valued scores (0, 1, 2: a label-only attack's count of kept labels), the chance of each value for
#: members and non-members; their AUC is 0.99 * 0.03 + 0.01 * 0.01 + (0.01 * 0.02 + 0.99 * 0.97) / 2.
THREE_VALUES = ((0.0, 0.01, 0.99), (0.01, 0.02, 0.97))


def draw(scenario: Scenario, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Member and non-member scores whose true AUC is ``scenario.auc``."""
    m, n = scenario.members, scenario.non_members
    if scenario.scores == "binary":  # a label-only attack, 1 when the model is right: on every member
        return np.ones(m), (rng.random(n) < 2 - 2 * scenario.auc) * 1.0
    if scenario.scores == "three values":
        members, non_members = THREE_VALUES
        return rng.choice(3, size=m, p=members) * 1.0, rng.choice(3, size=n, p=non_members) * 1.0
    spread = 2.0 if scenario.scores == "unequal" else 1.0
    shift = stats.norm.ppf(scenario.auc) * math.sqrt(1 + spread**2)
    members, non_members = rng.normal(shift, spread, m), rng.normal(0, 1, n)
    if scenario.scores == "lognormal":  # a monotone transform keeps the AUC and gives a heavy right tail
        return np.exp(2 * members), np.exp(2 * non_members)
    return members, non_members


def error_rates(scenario: Scenario, runs: int, error: float, seed: int) -> tuple[float, ...]:
    """(lower bound above the truth, upper below) for the AUC-scale margin, the logit bound and the gate's."""
    rng = np.random.default_rng(seed)
    m, n = scenario.members, scenario.non_members
    is_member = np.r_[np.ones(m, bool), np.zeros(n, bool)]
    z, z95 = z_quantile(error), z_quantile(0.025)
    wrong = np.zeros(6)
    for _ in range(runs):
        scores = np.r_[draw(scenario, rng)]
        estimate = roc_auc(scores, is_member, rng=rng)
        value, se = estimate.value, (estimate.ci_high - estimate.ci_low) / (2 * z95)
        flat = Bounds(value - z * se, value + z * se)
        logit = logit_auc_bounds(value, estimate.ci_low, estimate.ci_high, error)
        if scenario.scores == "binary":
            gate = TwoValuedScores.of(scores, is_member).bounds(error)
        else:
            gate = auc_bounds(value, estimate.ci_low, estimate.ci_high, m, n, error)
        for i, bounds in enumerate((flat, logit, gate)):
            wrong[2 * i : 2 * i + 2] += [bounds.low > scenario.auc, bounds.high < scenario.auc]
    return tuple(wrong / runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=4000, help="simulated audits per scenario")
    parser.add_argument("--error", type=float, default=0.0125, help="each one-sided bound's error")
    parser.add_argument("--jobs", type=int, default=2, help="processes")
    args = parser.parse_args()
    with ProcessPoolExecutor(args.jobs, initializer=threadpool_limits, initargs=(1,)) as pool:
        count = len(SCENARIOS)
        rates = list(
            pool.map(error_rates, SCENARIOS, [args.runs] * count, [args.error] * count, range(count))
        )
    slack = 3 * math.sqrt(args.error * (1 - args.error) / args.runs)
    print(f"One-sided AUC bounds at error {args.error:g}, {args.runs} simulated audits per row")
    print()
    print("| scores | true AUC | members/non-members | AUC scale: low > truth | high < truth "
          "| logit: low > truth | high < truth | the gate: low > truth | high < truth | 3 SE |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    for scenario, row in zip(SCENARIOS, rates, strict=True):
        cells = " | ".join(f"{rate:.4f}" for rate in row)
        print(
            f"| {scenario.scores} | {scenario.auc:g} | {scenario.members}/{scenario.non_members} | "
            f"{cells} | {slack:.4f} |"
        )


if __name__ == "__main__":
    main()

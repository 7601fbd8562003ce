"""How often the gate fails and passes one value exactly at its limit (each rate should be at most alpha), and
how often it fails one above it (its power), through ``check_gate`` on simulated audits.

    .venv/bin/python benchmarks/gate_at_the_limit.py              # 400 audits per row, 2 processes
    .venv/bin/python benchmarks/gate_at_the_limit.py --audits 100 # a quicker look

Each audit draws one attack's member and non-member scores whose true AUC or TPR at 1% FPR is known
(binormal; "unequal": members' spread twice the non-members'), analyses them as an audit does and checks
one rule at alpha 0.05 on them: with the audit's scores (the gate) and, for the TPR, without them (the
flagged count's Clopper-Pearson bounds at the thresholds it was read at, the gate's before).
"""

import argparse
import math
from concurrent.futures import ProcessPoolExecutor
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import stats
from threadpoolctl import threadpool_limits

from audit_core.audit.analysis import analyse_scores
from audit_core.gate.check import GatePolicy, check_gate
from audit_core.stats.names import HEADLINE_FPR

ALPHA = 0.05


class Row(NamedTuple):
    rule: str  # max_auc or max_tpr_at_1pct_fpr
    scores: str  # binormal or unequal
    truth: float  # the true AUC or TPR at 1% FPR
    points: int  # members and as many non-members
    limit: float


ROWS = (
    Row("max_auc", "unequal", 0.95, 30, 0.95),
    Row("max_auc", "unequal", 0.9, 20, 0.9),
    Row("max_auc", "binormal", 0.7, 300, 0.7),
    Row("max_auc", "binormal", 0.95, 30, 0.85),
    Row("max_tpr_at_1pct_fpr", "binormal", 0.0924, 500, 0.0924),
    Row("max_tpr_at_1pct_fpr", "binormal", 0.0924, 2000, 0.0924),
    Row("max_tpr_at_1pct_fpr", "binormal", 0.3721, 300, 0.3721),
    Row("max_tpr_at_1pct_fpr", "binormal", 0.0924, 1000, 0.05),
    Row("max_tpr_at_1pct_fpr", "binormal", 0.0924, 5000, 0.06),
    Row("max_tpr_at_1pct_fpr", "binormal", 0.01, 1000, 0.05),
)


def _shift(row: Row, spread: float) -> float:
    """The members' mean that gives the row's true AUC or TPR at 1% FPR (non-members N(0, 1))."""
    if row.rule == "max_auc":
        return math.sqrt(1 + spread**2) * stats.norm.ppf(row.truth)
    return stats.norm.isf(HEADLINE_FPR) + spread * stats.norm.ppf(row.truth)


def rates(row: Row, audits: int, seed: int) -> tuple[float, float, float, float]:
    """(failed, passed) with the audit's scores, then without them (NaN for an AUC)."""
    rng = np.random.default_rng(seed)
    spread = 2.0 if row.scores == "unequal" else 1.0
    shift, n = _shift(row, spread), row.points
    policy = GatePolicy(**{row.rule: row.limit}, condition="undefended")
    counts = np.zeros(4)
    for audit in range(audits):
        frame = pd.DataFrame(
            {
                "condition": "undefended",
                "knowledge": "naive",
                "attack": "loss",
                "is_member": np.r_[np.ones(n, bool), np.zeros(n, bool)],
                "score": np.r_[rng.normal(shift, spread, n), rng.normal(size=n)],
            }
        )
        metrics = analyse_scores(frame, seed=audit)
        for i, scores in enumerate(((frame, None), (None, None))):
            if i == 1 and row.rule == "max_auc":
                continue
            outcome = check_gate(policy, metrics, scores=scores).rules[0].outcome
            counts[2 * i : 2 * i + 2] += [outcome == "fail", outcome == "pass"]
    result = counts / audits
    if row.rule == "max_auc":
        result[2:] = np.nan
    return tuple(result)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--audits", type=int, default=400, help="simulated audits per row")
    parser.add_argument("--jobs", type=int, default=2, help="processes")
    args = parser.parse_args()
    with ProcessPoolExecutor(args.jobs, initializer=threadpool_limits, initargs=(1,)) as pool:
        results = list(pool.map(rates, ROWS, [args.audits] * len(ROWS), range(len(ROWS))))
    slack = 3 * math.sqrt(ALPHA * (1 - ALPHA) / args.audits)
    print(f"One value, alpha {ALPHA}, {args.audits} audits per row; at the limit each rate should be at most")
    print(f"{ALPHA} (+ {slack:.4f}, three standard errors)\n")
    print("| rule | scores | true value | points | limit | failed | passed | count only: failed | passed |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row, (failed, passed, count_failed, count_passed) in zip(ROWS, results, strict=True):
        count = "- | -" if math.isnan(count_failed) else f"{count_failed:.3f} | {count_passed:.3f}"
        print(
            f"| {row.rule} | {row.scores} | {row.truth:g} | {row.points}/{row.points} | {row.limit:g} | "
            f"{failed:.3f} | {passed:.3f} | {count} |"
        )


if __name__ == "__main__":
    main()

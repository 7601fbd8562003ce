"""How often the stored 95% interval of a TPR at a target FPR misses the true TPR, on simulated attack scores,
side by side with the interval it replaced.

    .venv/bin/python benchmarks/tpr_interval.py               # 1000 audits per row
    .venv/bin/python benchmarks/tpr_interval.py --runs 4000

Each audit draws binormal member and non-member scores (members shifted by ``shift`` standard deviations; 0:
a model that leaks nothing), so the true TPR at FPR ``f`` is known, and measures the TPR exactly as an audit
does (``stats.metrics.crossfit_tpr_at_fpr``: thresholds read on the other half of the non-members). "count"
is the Clopper-Pearson 95% interval of the cross-fitted count of flagged members, exact only given the
thresholds it was read at (``metrics.parquet``'s until the audit's own thresholds were found to move the TPR
more than the count's spread); "stored" is the interval an audit writes now (order statistics of all
non-members' scores, each side at 0.025, widened to hold the estimate). Each side should miss at most 2.5%;
the last column is three standard errors of a rate of 0.025 over ``--runs`` audits.
"""

import argparse
import math

import numpy as np
from scipy import stats

from audit_core.stats.metrics import clopper_pearson, crossfit_tpr_at_fpr

SCENARIOS = [
    (shift, points) for shift, points in ((1.0, 500), (1.0, 2000), (2.0, 300), (2.0, 5000), (0.0, 1000))
]


def _misses(f: float, shift: float, points: int, runs: int, seed: int) -> np.ndarray:
    """Share of audits whose count interval and stored interval lie above and below the true TPR (2 x 2)."""
    rng = np.random.default_rng(seed)
    truth = stats.norm.sf(stats.norm.isf(f) - shift)
    is_member = np.r_[np.ones(points, bool), np.zeros(points, bool)]
    missed = np.zeros((2, 2))
    for _ in range(runs):
        scores = np.r_[rng.normal(shift, 1, points), rng.normal(size=points)]
        stored = crossfit_tpr_at_fpr(scores, is_member, f, rng=rng).tpr
        count = clopper_pearson(round(stored.value * points), points)
        missed += [
            (count.ci_low > truth, count.ci_high < truth),
            (stored.ci_low > truth, stored.ci_high < truth),
        ]
    return missed / runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1000, help="simulated audits per row")
    args = parser.parse_args()
    print(f"95% intervals of the TPR at a target FPR, {args.runs} simulated audits per row (binormal scores)")
    print()
    print(
        "| FPR | shift | members/non-members | true TPR | count: low > truth | high < truth | covers "
        "| stored: low > truth | high < truth | covers | 3 SE at 0.025 |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for seed, (f, (shift, points)) in enumerate((f, s) for f in (0.01, 0.001, 0.1) for s in SCENARIOS):
        truth = stats.norm.sf(stats.norm.isf(f) - shift)
        (count_low, count_high), (low, high) = _misses(f, shift, points, args.runs, seed)
        print(
            f"| {f:g} | {shift:g} | {points}/{points} | {truth:.4f} | {count_low:.3f} | {count_high:.3f} "
            f"| {1 - count_low - count_high:.3f} | {low:.3f} | {high:.3f} | {1 - low - high:.3f} "
            f"| {3 * math.sqrt(0.025 * 0.975 / args.runs):.3f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()

"""The report explorer's grid: how long its numbers take to compute, by class count.

    .venv/bin/python benchmarks/explorer.py

Logits of a real logistic regression on the digits (10 classes), then random 100-class logits, at the demo's
audit size (300 members, 300 non-members, 600 test records); one BLAS thread; best of two.
"""

import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from audit_core.config import TuneConfig
from audit_core.defenses import DynaNoise
from audit_core.report.explorer import PARAMS, explorer_payload


def digits_logits() -> tuple[np.ndarray, np.ndarray]:
    x, y = load_digits(return_X_y=True)
    model = LogisticRegression(max_iter=300).fit(x[:300], y[:300])
    return model.decision_function(x[:1200]), y[:1200]


def random_logits(classes: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return 4 * rng.standard_normal((1200, classes)), rng.integers(0, classes, 1200)


def seconds(logits: np.ndarray, labels: np.ndarray) -> float:
    tune = TuneConfig()
    ranges = {p: getattr(tune, f"{p}_range") for p in PARAMS}
    times = []
    for _ in range(2):
        start = time.perf_counter()
        explorer_payload(
            logits[:600],
            labels[:600],
            np.arange(600) < 300,
            logits[600:],
            labels[600:],
            DynaNoise(),
            ranges,
            0.02,
            seed=0,
        )
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    with threadpool_limits(1):
        rows = [("10 (digits)", seconds(*digits_logits())), ("100 (random)", seconds(*random_logits(100)))]
    print("| classes | seconds |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value:.2f} |")


if __name__ == "__main__":
    main()

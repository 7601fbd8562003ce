"""Attack benchmarks: wall time of every attack on the demo, and LiRA/RMIA scaling on synthetic outputs.

    .venv/bin/python benchmarks/attacks.py            # full run (needs about 6 GB of free memory)
    .venv/bin/python benchmarks/attacks.py --quick    # N up to 1e5 only

Prints two tables. All timings use one torch/BLAS thread; they are wall-clock seconds of fit + score.
"""

import argparse
import os
import time
import tracemalloc

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch

from audit_core.attacks import ATTACKS, AttackInput, CalibrationData, ReferenceOutputs
from audit_core.audit.evaluation import calibration_data, observe
from audit_core.audit.run import gather_inputs
from audit_core.config import AuditConfig
from audit_core.defenses import Undefended
from audit_core.results.summary import model_cache_line


def demo_table() -> None:
    """Fit + score time of each attack on the demo's undefended outputs (models from the cache)."""
    config = AuditConfig()
    inputs = gather_inputs(config)
    signals = inputs.signals
    rng = np.random.default_rng(0)
    undefended = Undefended()
    population = AttackInput(observe(undefended, signals.population.logits, rng), signals.population.labels)
    calibration = calibration_data(signals, undefended, rng, 1, population)
    answers = AttackInput(
        observe(undefended, np.vstack([signals.members.logits, signals.non_members.logits]), rng),
        signals.audit_labels,
    )
    print(
        f"\nDemo ({len(answers)} audit points, {config.reference_models} reference models)\n"
        f"{model_cache_line(inputs.model_cache)}"
    )
    print("| attack | fit + score (ms) |\n|---|---|")
    for name in config.attacks:
        start = time.perf_counter()
        ATTACKS[name]().fit(calibration).score(answers)
        print(f"| {name} | {1000 * (time.perf_counter() - start):.1f} |")


def synthetic_outputs(n: int, n_models: int, k: int, rng: np.random.Generator) -> tuple:
    """Random float32 probability vectors for a target and ``n_models`` references, generated in blocks."""
    labels = rng.integers(0, k, size=n)
    audit = np.empty((n_models, n, k), dtype=np.float32)
    for r in range(n_models):
        logits = rng.normal(size=(n, k)).astype(np.float32)
        logits[np.arange(n), labels] += 2.0
        audit[r] = torch.softmax(torch.from_numpy(logits), dim=1).numpy()
    in_mask = np.zeros((n_models, n), dtype=bool)
    in_mask[0::2] = rng.random((n_models // 2, n)) < 0.5
    in_mask[1::2] = ~in_mask[0::2]
    population_labels = rng.integers(0, k, size=10_000)
    population = np.full((n_models, 10_000, k), 1.0 / k, dtype=np.float32)
    target = AttackInput(audit[0].astype(np.float64), labels)
    calibration = CalibrationData(
        references=ReferenceOutputs(audit, labels, in_mask, population, population_labels),
        target_population=AttackInput(population[0].astype(np.float64), population_labels),
    )
    return calibration, target


def scaling_table(sizes: list[int], n_models: int = 64, k: int = 10) -> None:
    """Fit + score time and peak extra memory of LiRA and RMIA as the number of audit points grows."""
    print(
        f"\nScaling ({n_models} reference models, {k} classes, float32 inputs; time excludes data generation)"
    )
    print("| N audit points | attack | seconds | peak extra memory (MB) | seconds per 1e6 points |")
    print("|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    for n in sizes:
        calibration, target = synthetic_outputs(n, n_models, k, rng)
        for name in ("lira_online", "lira_offline", "rmia"):
            tracemalloc.start()
            start = time.perf_counter()
            ATTACKS[name]().fit(calibration).score(target)
            seconds = time.perf_counter() - start
            peak = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
            print(f"| {n:.0e} | {name} | {seconds:.2f} | {peak:.0f} | {seconds / n * 1e6:.2f} |")
        del calibration, target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip N = 1e6")
    args = parser.parse_args()
    torch.set_num_threads(1)
    demo_table()
    scaling_table([10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000])


if __name__ == "__main__":
    main()

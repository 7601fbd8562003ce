"""Attack benchmarks: wall time of every attack on the demo (per record, and per query for the label-only
query attacks), and LiRA/RMIA scaling on synthetic outputs.

    .venv/bin/python benchmarks/attacks.py            # full run (needs about 6 GB of free memory)
    .venv/bin/python benchmarks/attacks.py --quick    # N up to 1e5 only

Prints two tables. All timings use one torch/BLAS thread; they are wall-clock seconds of fit + score. A query
attack's queries are its queries per record times the shadow records it calibrates on plus the audit records.
"""

import argparse
import os
import time
import tracemalloc

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch

from audit_core.attacks import ATTACKS, AttackInput, CalibrationData, QueryAttack, ReferenceOutputs
from audit_core.audit.evaluation import audit_answers, calibration_data, population_answers
from audit_core.audit.run import gather_inputs
from audit_core.config import DEFAULT_ATTACKS, AuditConfig
from audit_core.defenses import Undefended
from audit_core.results.summary import model_cache_line


def demo_table() -> None:
    """Fit + score time of each attack on the demo's undefended outputs (models from the cache): in all, per
    audit record, and per query for the query attacks."""
    config = AuditConfig(attacks=sorted(ATTACKS, key=lambda name: (name not in DEFAULT_ATTACKS, name)))
    inputs = gather_inputs(config)
    signals = inputs.signals
    rng = np.random.default_rng(0)
    undefended = Undefended()
    population = population_answers(undefended, signals, rng, 1)
    calibration = calibration_data(signals, undefended, rng, 1, population)
    logits = np.vstack([signals.members.logits, signals.non_members.logits])
    answers = audit_answers(undefended, signals, logits, rng, 1)
    queried = len(answers) + len(calibration.shadow.outputs)
    print(
        f"\nDemo ({len(answers)} audit points, {len(calibration.shadow.outputs)} shadow points, "
        f"{config.reference_models} reference models)\n{model_cache_line(inputs.model_cache)}"
    )
    print("| attack | fit + score (ms) | per audit record (µs) | queries per record | per query (µs) |")
    print("|---|---|---|---|---|")
    for name in config.attacks:
        attack = ATTACKS[name]()
        start = time.perf_counter()
        attack.fit(calibration).score(answers)
        seconds = time.perf_counter() - start
        queries, per_query = "-", "-"
        if isinstance(attack, QueryAttack):
            queries = attack.queries_per_record(answers.features.shape[1:])
            per_query = f"{1e6 * seconds / (queries * queried):.2f}"
        per_record = 1e6 * seconds / len(answers)
        print(f"| {name} | {1000 * seconds:.1f} | {per_record:.0f} | {queries} | {per_query} |")


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

"""What the defenses cost: DynaNoise and MemGuard against the model's own forward pass, and tuning against
an audit.

    .venv/bin/python benchmarks/defense.py                 # both tables (a few minutes on one thread)
    .venv/bin/python benchmarks/defense.py --skip-tuning   # the overhead table only

Table 1: per model (the demo MLP; torchvision ResNet-18 with random weights on 32x32 inputs) and batch size,
the median forward time and, measured in the same loop on the same batches, the median time of each defense
on the logits: DynaNoise (per_query and per_input, torch) and MemGuard (its per-query search). Overhead is
the defense's time over the forward pass's. Every repetition draws a fresh batch, so nothing is cached.

Table 2: one full demo audit (data, target, shadow and reference training, every configured condition under
every attacker knowledge, report) against 50 Optuna trials of the tuner on the same logits, and against the
baselines' grids on the tuning front. Each tuning runs in a fresh process, so neither starts with the noise
or fits the other (or the audit) left in memory.
"""

import argparse
import multiprocessing
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import torch
import torchvision
from torch import nn

from audit_core.audit.run import gather_inputs, run_audit
from audit_core.audit.split import tuning_split
from audit_core.config import DEMO_DEFENSES, AuditConfig, TrainingRecipe, TuneConfig, parse_config
from audit_core.defenses import DefenderData, DynaNoise, MemGuard, fit_defense
from audit_core.defenses.torch_dynanoise import TorchDynaNoise
from audit_core.training import build_model
from audit_core.tuning.search import Attacker, tune

BATCHES = (1, 64, 256)
VARIANTS = ("per_query", "per_input", "memguard")
KEY = b"benchmark key, not a secret...."


def _models() -> dict[str, tuple[nn.Module, tuple[int, ...]]]:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        mlp = build_model(TrainingRecipe(), n_features=64, n_classes=10, seed=0).eval()
        resnet = torchvision.models.resnet18(weights=None, num_classes=10).eval()
    return {"demo MLP": (mlp, (64,)), "ResNet-18 (32x32)": (resnet, (3, 32, 32))}


def _memguard() -> MemGuard:
    """MemGuard fitted on synthetic defender outputs: confident members, flatter non-members."""
    rng = np.random.default_rng(0)
    members = rng.normal(0, 1, (300, 10))
    members[np.arange(300), rng.integers(10, size=300)] += 8.0
    defender = DefenderData(members, rng.normal(0, 2, (300, 10)), rng.normal(0, 0.3, (100, 10)))
    return fit_defense(MemGuard(), defender, seed=0)


def _ms(run: Callable[[torch.Tensor], object], argument: torch.Tensor) -> float:
    start = time.perf_counter()
    run(argument)
    return 1000 * (time.perf_counter() - start)


def overhead_table(repeats: dict[int, int]) -> None:
    """Table 1 (see the module docstring)."""
    per_query = TorchDynaNoise(DynaNoise())
    per_input = TorchDynaNoise(DynaNoise(noise_mode="per_input", key=KEY))
    memguard = _memguard()
    generator = torch.Generator().manual_seed(0)
    columns = ["DynaNoise per_query", "DynaNoise per_input", "MemGuard"]
    print("| model | batch | forward ms | " + " | ".join(f"{c} ms (overhead)" for c in columns) + " |")
    print("|---|---|---|---|---|---|")
    for name, (model, shape) in _models().items():
        for batch in BATCHES:
            inputs = [torch.randn(batch, *shape, generator=generator) for _ in range(repeats[batch])]
            with torch.no_grad():
                model(inputs[0])  # warm-up
                logits = [model(x) for x in inputs]
                rows: dict[str, list[float]] = {k: [] for k in ("forward", *VARIANTS)}
                for x, z in zip(inputs, logits, strict=True):  # interleaved: one of each per repetition
                    rows["forward"].append(_ms(model, x))
                    rows["per_query"].append(_ms(lambda z: per_query(z, generator), z))
                    rows["per_input"].append(_ms(per_input, z))
                    rows["memguard"].append(
                        _ms(lambda z: memguard.apply(z.double().numpy(), np.random.default_rng(0)), z)
                    )
            medians = {k: statistics.median(v) for k, v in rows.items()}
            forward = medians["forward"]
            cells = [
                f"{medians[k]:.3f} ({100 * medians[k] / forward:.1f}%)" for k in ("per_query", "per_input")
            ]
            cells.append(f"{medians['memguard']:.1f} ({medians['memguard'] / forward:.1f}x)")
            print(f"| {name} | {batch} | {forward:.3f} | " + " | ".join(cells) + " |", flush=True)


def _tuning_seconds(config: AuditConfig, n_trials: int, baselines: bool) -> float:
    """Seconds of one tuning on the audit's logits (in a fresh process: nothing remembered from another)."""
    torch.set_num_threads(1)
    inputs = gather_inputs(config)
    settings = TuneConfig(n_trials=n_trials, baselines=baselines)
    tuning, evaluation = tuning_split(inputs.signals, settings)
    against = Attacker(tuple(config.attacks), settings.knowledge, config.seed, config.max_queries)
    start = time.perf_counter()
    tune(tuning, evaluation, inputs.defender, settings, against)
    return time.perf_counter() - start


def tuning_table(n_trials: int) -> None:
    """Table 2 (see the module docstring)."""
    config = parse_config(
        {"defenses": DEMO_DEFENSES, "cache_dir": None, "output_dir": "out/benchmark", "run_name": "audit"}
    )
    start = time.perf_counter()
    run_audit(config, write=True)
    audit_seconds = time.perf_counter() - start

    rows = [("one full audit (9 conditions, 3 attacker knowledges, report)", audit_seconds)]
    spawn = multiprocessing.get_context("spawn")
    for baselines, label in (
        (False, f"{n_trials} Optuna trials (DynaNoise only)"),
        (True, "... and the baselines' grids on the front"),
    ):
        with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as fresh:
            rows.append((label, fresh.submit(_tuning_seconds, config, n_trials, baselines).result()))
    print(
        f"\n{len(config.attacks)} attacks; {config.data.n_members} members and {config.data.n_non_members} "
        f"non-members; {config.reference_models} reference models; 1 torch thread\n"
    )
    print("| step | seconds | share of the audit |")
    print("|---|---|---|")
    for label, seconds in rows:
        print(f"| {label} | {seconds:.1f} | {100 * seconds / audit_seconds:.1f}% |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-tuning", action="store_true", help="print the overhead table only")
    parser.add_argument("--trials", type=int, default=50, help="Optuna trials for table 2 (50)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    overhead_table({1: 200, 64: 30, 256: 10})
    if not args.skip_tuning:
        tuning_table(args.trials)


if __name__ == "__main__":
    main()

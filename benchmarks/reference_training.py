"""Reference-model training: one at a time vs batched vs worker processes vs Prefect tasks on Dask.

    .venv/bin/python benchmarks/reference_training.py              # R = 16 and 64, the demo recipe
    .venv/bin/python benchmarks/reference_training.py --epochs 50  # a quicker look

For each R the same reference models (demo data, complementary halves of the 300 audit points) are trained
by each trainer in one run, side by side; the table gives wall time, speed-up over the loop, whether the
weights are identical to the loop's, and online LiRA's undefended AUC with those references. The Dask rows
run the audit's own path (``flows/training.py``: batched groups as Prefect tasks on a ``DaskTaskRunner``,
weights back as arrays) with two worker processes of one thread: "cold" starts a local cluster for the
call, as an audit with ``runner: {kind: dask, n_workers: 2}`` does; "warm" reuses a running cluster whose
workers have already imported torch and Prefect, as with ``runner.address``.
"""

import argparse
import time

import numpy as np
import torch
from distributed import LocalCluster
from prefect import flow
from scipy.special import softmax
from torch import nn

from audit_core.attacks import ATTACKS, AttackInput, CalibrationData, ReferenceOutputs
from audit_core.audit.inputs import load_audit_data
from audit_core.audit.models import train_references, train_target
from audit_core.config import AuditConfig, DaskRunnerConfig
from audit_core.core.devices import resolve_device
from audit_core.core.seeding import derive_rng, derive_seed
from audit_core.stats.metrics import roc_auc
from audit_core.training.references import complementary_in_masks
from audit_core.training.trainers import TRAINERS
from flows.training import on_task_runner

DASK_WORKERS = 2


def lira_auc(models: list, in_mask: np.ndarray, config: AuditConfig, target_probs: np.ndarray) -> float:
    """Online LiRA's AUC on the demo's undefended outputs with ``models`` as references."""
    data = load_audit_data(config)
    points = data.audit_points()
    references = ReferenceOutputs(
        audit=np.stack(
            [softmax(m(torch.as_tensor(points.features)).detach().double().numpy(), 1) for m in models]
        ),
        labels=points.labels,
        in_mask=in_mask,
        population=np.zeros((len(models), 1, data.n_classes)) + 1 / data.n_classes,
        population_labels=np.zeros(1, dtype=int),
    )
    attack = ATTACKS["lira_online"]().fit(CalibrationData(references=references))
    scores = attack.score(AttackInput(target_probs, points.labels))
    return roc_auc(scores, np.arange(len(points)) < len(data.members), n_bootstrap=0).value


@flow(name="benchmark-reference-training")
def train_on_dask(
    config: AuditConfig, n_models: int, runner: DaskRunnerConfig
) -> tuple[list[nn.Module], float]:
    """The ``n_models`` reference models of ``config`` trained as Prefect tasks on ``runner``, and the
    seconds it took (starting a local cluster included)."""
    data = load_audit_data(config)
    config = config.model_copy(update={"reference_models": n_models, "cache_dir": None})
    start = time.perf_counter()
    fingerprints = {"data": data.fingerprint()}
    models, _, _ = train_references(config, data, fingerprints, run_groups=on_task_runner(runner))
    return [m.module for m in models], time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None, help="override the demo recipe's epochs")
    parser.add_argument("--sizes", type=int, nargs="+", default=[16, 64], help="numbers of reference models")
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = AuditConfig()
    if args.epochs:
        config = config.model_copy(
            update={"recipe": config.recipe.model_copy(update={"epochs": args.epochs})}
        )
    data = load_audit_data(config)
    points = data.audit_points()
    target = train_target(config, data)
    target_probs = softmax(target.logits(points.features), axis=1)
    device = resolve_device(config.device)
    print(
        f"Demo recipe: {config.recipe.epochs} epochs, batch {config.recipe.batch_size}, hidden "
        f"{config.recipe.hidden_sizes}; {len(points) // 2} training points per model; 1 torch thread; "
        f"device {device}\n"
    )
    cluster = LocalCluster(n_workers=DASK_WORKERS, threads_per_worker=1, dashboard_address=":0")
    warm = DaskRunnerConfig(address=cluster.scheduler_address)
    dask_runners = {
        f"dask, {DASK_WORKERS} local workers, cold": DaskRunnerConfig(n_workers=DASK_WORKERS),
        f"dask, {DASK_WORKERS} workers, warm": warm,
    }
    tiny = config.model_copy(update={"recipe": config.recipe.model_copy(update={"epochs": 1})})
    train_on_dask(tiny, 2 * DASK_WORKERS, warm)  # the workers import torch, Prefect and dynaudit
    print("| R | trainer | seconds | speed-up vs loop | identical to loop | LiRA online AUC |")
    print("|---|---|---|---|---|---|")
    for n_models in args.sizes:
        in_mask = complementary_in_masks(len(points), n_models, derive_rng(config.seed, "references"))
        sets = [(points.features[m], points.labels[m]) for m in in_mask]
        seeds = [derive_seed(config.seed, "reference", str(i)) for i in range(n_models)]
        baseline_time, baseline_weights = None, None
        for name in ("loop", "batched", "processes", *dask_runners):
            if name in TRAINERS:
                start = time.perf_counter()
                models = TRAINERS[name](sets, data.n_classes, config.recipe, seeds=seeds, device=device)
                seconds = time.perf_counter() - start
            else:
                models, seconds = train_on_dask(config, n_models, dask_runners[name])
            weights = [torch.cat([p.detach().flatten() for p in m.parameters()]) for m in models]
            if baseline_time is None:
                baseline_time, baseline_weights = seconds, weights
            identical = all(torch.equal(a, b) for a, b in zip(weights, baseline_weights, strict=True))
            auc = lira_auc(models, in_mask, config, target_probs)
            speedup = baseline_time / seconds
            print(f"| {n_models} | {name} | {seconds:.1f} | {speedup:.2f} | {identical} | {auc:.4f} |")
    cluster.close()


if __name__ == "__main__":
    main()

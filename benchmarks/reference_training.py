"""Reference-model training on one machine: one at a time vs batched vs worker processes (and Dask).

    .venv/bin/python benchmarks/reference_training.py              # R = 16 and 64, the demo recipe
    .venv/bin/python benchmarks/reference_training.py --epochs 50  # a quicker look

For each R the same reference models (demo data, complementary halves of the 300 audit points) are trained
by each trainer in one run, side by side; the table gives wall time, speed-up over the loop, whether the
weights are identical to the loop's, and online LiRA's undefended AUC with those references.
"""

import argparse
import time

import numpy as np
import torch
from scipy.special import softmax

from audit_core import pipeline
from audit_core.attacks import ATTACKS, AttackInput, CalibrationData, ReferenceOutputs
from audit_core.config import AuditConfig
from audit_core.metrics import roc_auc
from audit_core.references import TRAINERS, complementary_in_masks
from audit_core.seeding import derive_rng, derive_seed


def lira_auc(models: list, in_mask: np.ndarray, config: AuditConfig, target_probs: np.ndarray) -> float:
    """Online LiRA's AUC on the demo's undefended outputs with ``models`` as references."""
    data = pipeline.load_audit_data(config)
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
    data = pipeline.load_audit_data(config)
    points = data.audit_points()
    target = pipeline.train_target(config, data)
    target_probs = softmax(target.logits(points.features), axis=1)
    print(
        f"Demo recipe: {config.recipe.epochs} epochs, batch {config.recipe.batch_size}, hidden "
        f"{config.recipe.hidden_sizes}; {len(points) // 2} training points per model; 1 torch thread\n"
    )
    print("| R | trainer | seconds | speed-up vs loop | identical to loop | LiRA online AUC |")
    print("|---|---|---|---|---|---|")
    for n_models in args.sizes:
        in_mask = complementary_in_masks(len(points), n_models, derive_rng(config.seed, "references"))
        sets = [(points.features[m], points.labels[m]) for m in in_mask]
        seeds = [derive_seed(config.seed, "reference", str(i)) for i in range(n_models)]
        baseline_time, baseline_weights = None, None
        for name in ("loop", "batched", "processes"):
            start = time.perf_counter()
            models = TRAINERS[name](sets, data.n_classes, config.recipe, seeds=seeds)
            seconds = time.perf_counter() - start
            weights = [torch.cat([p.detach().flatten() for p in m.parameters()]) for m in models]
            if baseline_time is None:
                baseline_time, baseline_weights = seconds, weights
            identical = all(torch.equal(a, b) for a, b in zip(weights, baseline_weights, strict=True))
            auc = lira_auc(models, in_mask, config, target_probs)
            speedup = baseline_time / seconds
            print(f"| {n_models} | {name} | {seconds:.1f} | {speedup:.2f} | {identical} | {auc:.4f} |")


if __name__ == "__main__":
    main()

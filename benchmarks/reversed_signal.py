"""A defense that reverses a signal without removing it: the threshold attacks' learned side, on a k-NN.

    PYTHONPATH=. .venv/bin/python benchmarks/reversed_signal.py                 # 600 members, about a minute
    PYTHONPATH=. .venv/bin/python benchmarks/reversed_signal.py --neighbours 15

The target is a scikit-learn pipeline (standardised features, then a k-nearest-neighbours classifier weighted
by distance, which answers a member with certainty: its own point is at distance zero), trained on 600 of
4,000 synthetic records (12 features, 20 classes of Zipf-like sizes; 600 non-members, 1,800 population, 1,000
test). References and the shadow are clones of it. The audit runs DynaNoise at the paper's setting. Printed,
for each attacker knowledge: each threshold attack's AUC with its 95% interval and the side it learned on its
shadow (the naive attacker's shadow is undefended, so it reads the published side; the adaptive and averaging
attackers' shadow passes through the defense), then the strongest attack of each condition and the wall time.
"""

import argparse
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import skops.io as sio
from sklearn.datasets import make_classification
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from audit_core.audit.analysis import worst_case
from audit_core.config import PAPER_SETTING
from benchmarks.text_table import auc_text, timed_audit

CLASSES = 20
SIZES = {"members": 600, "non_members": 600, "population": 1800, "test": 1000}
THRESHOLD_ATTACKS = ("confidence", "loss", "entropy", "modified_entropy")
KNOWLEDGE = ("naive", "adaptive", "averaging")


def write_classification_audit(
    folder: Path, sizes: dict[str, int], model: Any, classification: dict[str, Any], **config: Any
) -> dict:
    """``make_classification(**classification)`` records as the Parquet parts of ``sizes`` (in that order) and
    ``model`` fitted on the members, saved with skops, in ``folder``; the audit's config: those files, 8 clone
    references, no model cache, and ``config`` (``target`` entries merged into the target's)."""
    features, labels = make_classification(n_samples=sum(sizes.values()), **classification)
    columns = [f"f{i}" for i in range(features.shape[1])]
    rows = pd.DataFrame(features, columns=columns).assign(label=labels)
    paths, start = {}, 0
    for part, n in sizes.items():
        paths[part] = str(folder / f"{part}.parquet")
        rows[start : start + n].to_parquet(paths[part], index=False)
        start += n
    members = rows[: sizes["members"]]
    sio.dump(model.fit(members[columns], members.label), folder / "model.skops")
    target = {"kind": "sklearn", "path": str(folder / "model.skops"), **config.pop("target", {})}
    return {
        "data": {"kind": "table", "label": "label", **paths},
        "target": target,
        "reference_models": 8,
        "cache_dir": None,
        "output_dir": str(folder / "out"),
        **config,
    }


def write_audit(folder: Path, neighbours: int) -> dict:
    """The four Parquet parts and the skops k-NN in ``folder``; the audit's config."""
    weights = 1 / np.arange(1, CLASSES + 1)
    classification = {
        "n_features": 12,
        "n_informative": 8,
        "n_classes": CLASSES,
        "n_clusters_per_class": 1,
        "weights": list(weights / weights.sum()),
        "class_sep": 1.5,
        "random_state": 3,
    }
    model = make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=neighbours, weights="distance"))
    trusted = ["sklearn.metrics._dist_metrics.EuclideanDistance64", "sklearn.neighbors._kd_tree.KDTree"]
    return write_classification_audit(
        folder,
        SIZES,
        model,
        classification,
        run_name="reversed-signal",
        target={"trusted_types": trusted},
        defenses=[{"name": "dynanoise", **PAPER_SETTING}],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--neighbours", type=int, default=5, help="the k-NN's k")
    args = parser.parse_args()
    result, seconds = timed_audit(partial(write_audit, neighbours=args.neighbours), "reversed-signal-")
    undefended, defended = result.evaluations
    print(f"| attack | {defended.condition}: " + " | ".join(KNOWLEDGE) + " |")
    print("|---|" + "---|" * len(KNOWLEDGE))
    for attack in THRESHOLD_ATTACKS:
        outcomes = [defended.outcome(attack, knowledge) for knowledge in KNOWLEDGE]
        cells = [f"{auc_text(outcome.auc)} {outcome.chosen['side']}" for outcome in outcomes]
        print(f"| {attack} | " + " | ".join(cells) + " |")
    print()
    for evaluation in (undefended, defended):
        strongest = worst_case(evaluation.outcomes)
        print(
            f"strongest on {evaluation.condition}: {strongest.attack} ({strongest.knowledge}), "
            f"AUC {strongest.auc.value:.3f}"
        )
    print(f"audit {seconds:.1f} s")


if __name__ == "__main__":
    main()

"""dynaudit's attacks beside peer tools' on the same scikit-learn targets: SACRO-ML's LiRA, ART's boundary.

    make peers-env                                    # once: SACRO-ML 2.0.1 and ART 1.20.1 in .venv-peers
    PYTHONPATH=. .venv/bin/python benchmarks/peers.py # about 7 minutes (--skip-boundary: 1 minute)

Three targets, none of them dynaudit's own network: the distance-weighted k-NN of ``reversed_signal.py``
(600 members, 20 classes), the census random forest of ``text_table.py`` (600 members; text columns) and a
100-class logistic regression (C = 10, 1,500 members of 6,000 ``make_classification`` records, 30 features).
Each is audited undefended with 8 clone references. In the peers' environment (``peer_side.py``; SACRO-ML
needs pandas < 3): SACRO-ML's LiRA with as many shadow clones, on every member and non-member; and, where
every feature is a number, ART's HopSkipJump distance to the decision boundary (thousands of queries per
record) on 150 members and 150 non-members. Printed: two tables of AUCs, dynaudit's with their 95%
intervals, and the wall times. The tools draw different shadow sets and records, so their AUCs agree up to
that sampling, not digit for digit.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from audit_core.audit.analysis import ConditionEvaluation
from benchmarks import reversed_signal, text_table
from benchmarks.reversed_signal import write_classification_audit
from benchmarks.text_table import auc_text, timed_run

PEER_SIDE = Path(__file__).with_name("peer_side.py")
OURS_LIRA = ("lira_online", "lira_offline", "rmia")
SACRO_MODES = ("online", "online, fixed variance", "offline")
OURS_LABEL_ONLY = ("boundary", "augmentation", "label_only")
BOUNDARY_RECORDS, HSJ_ITERATIONS, HSJ_EVALUATIONS = 150, 40, 2000
SIZES = {"members": 1500, "non_members": 1500, "population": 2000, "test": 1000}


def write_many_classes(folder: Path) -> dict:
    """The 100-class logistic regression's Parquet parts and skops target in ``folder``; its config."""
    classification = {
        "n_features": 30,
        "n_informative": 20,
        "n_classes": 100,
        "n_clusters_per_class": 1,
        "class_sep": 2.0,
        "random_state": 5,
    }
    model = make_pipeline(StandardScaler(), LogisticRegression(C=10, max_iter=2000))
    return write_classification_audit(folder, SIZES, model, classification, run_name="many-classes")


#: Each target's writer, and whether every feature is a number (ART's boundary distance moves numbers only).
WORKLOADS: dict[str, tuple[Callable[[Path], dict], bool]] = {
    "k-NN (distance-weighted)": (partial(reversed_signal.write_audit, neighbours=5), True),
    "random forest (census)": (partial(text_table.write_audit, members=600), False),
    "logistic regression (100 classes)": (write_many_classes, True),
}


def peer_side(python: str, config: dict, folder: Path, *arguments: object) -> dict:
    """What ``peer_side.py`` prints for ``arguments`` on the audit ``config`` (its files in ``folder``)."""
    path = folder / "audit.json"
    path.write_text(json.dumps(config))
    command = [python, str(PEER_SIDE), str(arguments[0]), str(path), *map(str, arguments[1:])]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        sys.exit(f"{PEER_SIDE.name} {arguments[0]} failed: {done.stderr.strip().splitlines()[-1]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def ours(evaluation: ConditionEvaluation, attacks: tuple[str, ...]) -> list[str]:
    """Each attack's AUC with its interval on the undefended model."""
    return [auc_text(evaluation.outcome(attack, "naive").auc) for attack in attacks]


def table(header: list[str], rows: list[list[str]]) -> None:
    for row in (header, ["---"] * len(header), *rows):
        print("| " + " | ".join(row) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--peer-python", default=".venv-peers/bin/python", help="where the peers are installed"
    )
    parser.add_argument(
        "--references", type=int, default=8, help="reference (and shadow) models of each tool"
    )
    parser.add_argument("--skip-boundary", action="store_true", help="leave out ART's boundary distance")
    args = parser.parse_args()
    if not Path(args.peer_python).exists():
        sys.exit(f"--peer-python: {args.peer_python} does not exist; run `make peers-env` first.")
    lira_rows, boundary_rows, times = [], [], []
    for name, (write, numeric) in WORKLOADS.items():
        folder = Path(tempfile.mkdtemp(prefix="peers-"))
        config = write(folder) | {"defenses": [], "reference_models": args.references}
        result, seconds = timed_run(config)
        (undefended,) = result.evaluations
        times.append(f"{name}: dynaudit {seconds:.1f} s (every attack)")
        start = time.perf_counter()
        sacro = peer_side(args.peer_python, config, folder, "lira", args.references)
        times[-1] += f", SACRO-ML LiRA {time.perf_counter() - start:.1f} s"
        lira_rows.append([name, *ours(undefended, OURS_LIRA), *(f"{sacro[m]:.3f}" for m in SACRO_MODES)])
        if args.skip_boundary or not numeric:
            continue
        art = peer_side(
            args.peer_python, config, folder, "boundary", BOUNDARY_RECORDS, HSJ_ITERATIONS, HSJ_EVALUATIONS
        )
        times[-1] += (
            f", ART boundary {art['seconds']:.1f} s ({art['queries_per_record']:.0f} queries per record)"
        )
        boundary_rows.append(
            [name, *ours(undefended, OURS_LABEL_ONLY), f"{art['auc']:.3f} ({art['records']})"]
        )
    table(
        ["target", *(f"dynaudit {a}" for a in OURS_LIRA), *(f"SACRO-ML {m}" for m in SACRO_MODES)], lira_rows
    )
    if boundary_rows:
        print()
        table(
            ["target", *(f"dynaudit {a}" for a in OURS_LABEL_ONLY), "ART HopSkipJump distance (records)"],
            boundary_rows,
        )
    print("\n" + "\n".join(times))


if __name__ == "__main__":
    main()

"""A table with text columns, audited as its owner would: every attack's AUC on the undefended model and HAMP.

    PYTHONPATH=. .venv/bin/python benchmarks/text_table.py                 # 1,000 members, about 2 minutes
    PYTHONPATH=. .venv/bin/python benchmarks/text_table.py --members 300   # a quicker look

The records are census-like rows (age and weekly hours as numbers; education, occupation and sex as text;
income above or below 50K, about 40% above) written as CSV files, one per audit part, with a record id. The
target is a scikit-learn pipeline that one-hot encodes the text and standardises the numbers before a random
forest (100 trees, grown to purity, so it memorises its members), saved with skops; references are 8 clones
of it. Printed: each attack's AUC with its 95% interval on the undefended model under the naive attacker and
on HAMP under the adaptive one, the attacks skipped and why, and the audit's wall time (one torch thread).
"""

import argparse
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import skops.io as sio
import torch
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from audit_core.audit.run import run_audit
from audit_core.config import parse_config
from audit_core.results.tables import AuditResult
from audit_core.stats.metrics import Estimate

TEXT = ["education", "occupation", "sex"]
NUMBERS = ["age", "hours"]
EDUCATION = {"hs": 0.3, "some-college": 0.2, "bachelors": 0.18, "masters": 0.1, "doctorate": 0.03}
EDUCATION |= {"assoc": 0.09, "11th": 0.06, "9th": 0.04}
EARNS_MORE = {"bachelors": 0.8, "masters": 1.2, "doctorate": 1.6}  # an education's push towards >50K


def census(n: int, seed: int) -> pd.DataFrame:
    """``n`` census-like rows: a record id, two numbers, three text columns and the income label."""
    rng = np.random.default_rng(seed)
    education = rng.choice(list(EDUCATION), n, p=list(EDUCATION.values()))
    frame = pd.DataFrame(
        {
            "record": [f"r{i}" for i in range(n)],
            "age": rng.integers(18, 80, n),
            "hours": np.round(rng.normal(40, 12, n).clip(1, 99), 1),
            "education": education,
            "occupation": rng.choice([f"occupation {i}" for i in range(10)], n),
            "sex": rng.choice(["female", "male"], n),
        }
    )
    push = pd.Series(education).map(EARNS_MORE).fillna(0.0).to_numpy()
    score = 0.04 * (frame.age - 40) + 0.03 * (frame.hours - 40) + push + 0.4 * (frame.sex == "male")
    frame["income"] = np.where(score + rng.normal(0, 1, n) - 1.2 > 0, ">50K", "<=50K")
    return frame


def write_audit(folder: Path, members: int) -> dict:
    """The four CSV files and the skops target in ``folder``; the audit's config."""
    sizes = {"members": members, "non_members": members, "population": members, "test": members // 2}
    total = sum(sizes.values())
    rows = census(2 * total, seed=0).drop_duplicates(subset=NUMBERS + TEXT)  # no record in two parts
    paths, start = {}, 0
    for part, n in sizes.items():
        paths[part] = str(folder / f"{part}.csv")
        rows[start : start + n].to_csv(paths[part], index=False)
        start += n
    train = pd.read_csv(paths["members"])
    encode = ColumnTransformer(
        [("text", OneHotEncoder(handle_unknown="ignore"), TEXT), ("numbers", StandardScaler(), NUMBERS)]
    )
    model = make_pipeline(encode, RandomForestClassifier(n_estimators=100, random_state=0))
    sio.dump(model.fit(train[NUMBERS + TEXT], train.income), folder / "model.skops")
    return {
        "run_name": "text-table",
        "data": {"kind": "table", "label": "income", "classes": ["<=50K", ">50K"], "id": "record", **paths},
        "target": {
            "kind": "sklearn",
            "path": str(folder / "model.skops"),
            "trusted_types": ["sklearn.tree._tree.Tree"],
        },
        "reference_models": 8,
        "defenses": [{"name": "hamp"}],
        "cache_dir": None,
        "output_dir": str(folder / "out"),
    }


def auc_text(auc: Estimate) -> str:
    """An AUC and its 95% interval as ``0.933 [0.918, 0.947]``."""
    return f"{auc.value:.3f} [{auc.ci_low:.3f}, {auc.ci_high:.3f}]"


def timed_audit(write: Callable[[Path], dict], prefix: str) -> tuple[AuditResult, float]:
    """The result and wall seconds of the audit whose files and config ``write`` puts in a new temporary
    folder (its name starting with ``prefix``), run on one torch thread."""
    return timed_run(write(Path(tempfile.mkdtemp(prefix=prefix))))


def timed_run(config: dict) -> tuple[AuditResult, float]:
    """The result and wall seconds of the audit ``config``, run on one torch thread."""
    torch.set_num_threads(1)
    parsed = parse_config(config)
    start = time.perf_counter()
    result = run_audit(parsed).result
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1000, help="members (and as many non-members)")
    args = parser.parse_args()
    result, seconds = timed_audit(partial(write_audit, members=args.members), "text-table-")
    undefended, hamp = result.evaluations
    print("| attack | undefended AUC (naive) | HAMP AUC (adaptive) |")
    print("|---|---|---|")
    for attack in result.attacks:
        cells = [e.outcome(attack, k).auc for e, k in ((undefended, "naive"), (hamp, "adaptive"))]
        print(f"| {attack} | " + " | ".join(map(auc_text, cells)) + " |")
    skipped = "; ".join(f"{name}: {why}" for name, why in undefended.skipped.items()) or "none"
    print(f"\nskipped: {skipped}\n{args.members} members; audit {seconds:.1f} s")


if __name__ == "__main__":
    main()

"""Peer tools' attacks on an audit's scikit-learn target, run in the peers' environment (`make peers-env`).

    .venv-peers/bin/python benchmarks/peer_side.py lira AUDIT.json SHADOWS
    .venv-peers/bin/python benchmarks/peer_side.py boundary AUDIT.json RECORDS ITERATIONS EVALUATIONS

AUDIT.json is a dynaudit audit config (a `table` data kind and an `sklearn` target); this script reads the
members, the non-members and the skops model itself and imports nothing of dynaudit (SACRO-ML 2.0.1 needs
pandas < 3). Printed: one JSON object.

- `lira`: SACRO-ML 2.0.1's LiRA. It trains SHADOWS clones of the target, each on a random set of as many
  records as the members drawn from members and non-members together (once, shared by its modes), and scores
  every member and non-member; the target's `random_state` is set on every step of a pipeline that has one.
  Printed: mode -> AUC.
- `boundary`: ART 1.20.1's HopSkipJump distance to the decision boundary, as its LabelOnlyDecisionBoundary
  computes it (L2, untargeted; 0 for a record the model mislabels), on RECORDS members and as many
  non-members drawn at random (seed 0), numeric features only. Printed: the AUC of that distance, the
  records, the model's queries per record and the seconds.
"""

import json
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import skops.io as sio
from art.attacks.evasion import HopSkipJump
from art.estimators.classification import BlackBoxClassifier
from sacroml.attacks.likelihood_attack import LIRAAttack
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

#: SACRO-ML's LiRA modes (mode, fix_variance) by the name they are printed under: its online likelihood
#: ratio with each record's spread or one global spread, and its one-sided offline test (how far above the
#: OUT Gaussian), which is what dynaudit's offline LiRA scores.
MODES = {
    "online": ("online-carlini", False),
    "online, fixed variance": ("online-carlini", True),
    "offline": ("offline", False),
}


class ShadowEstimator:
    """What SACRO-ML's LiRA asks of a shadow model, for a pipeline fitted on a data frame: a seed set on
    every step that takes one, and records rebuilt as the frame the target was fitted on."""

    def __init__(self, estimator, dtypes: pd.Series) -> None:
        self.estimator, self.dtypes = estimator, dtypes

    def set_params(self, random_state: int) -> None:
        for _, step in getattr(self.estimator, "steps", [(None, self.estimator)]):
            if "random_state" in step.get_params():
                step.set_params(random_state=random_state)

    def frame(self, records: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(records, columns=self.dtypes.index).astype(self.dtypes)

    def fit(self, records: np.ndarray, labels: np.ndarray) -> "ShadowEstimator":
        self.estimator = clone(self.estimator).fit(self.frame(records), labels)
        return self

    def predict_proba(self, records: np.ndarray) -> np.ndarray:
        return self.estimator.predict_proba(self.frame(records))

    def get_classes(self) -> np.ndarray:
        return self.estimator.classes_


class Audit:
    """The audit's target, members and non-members: records as data frames of the feature columns, labels as
    positions in the model's ``classes_`` (its output columns)."""

    def __init__(self, config: dict) -> None:
        data, path = config["data"], config["target"]["path"]
        self.model = sio.load(path, trusted=sio.get_untrusted_types(file=path))
        parts = {part: self.read(data[part]) for part in ("members", "non_members")}
        self.columns = [c for c in parts["members"].columns if c not in (data["label"], data.get("id"))]
        classes = list(self.model.classes_)
        self.records = {part: frame[self.columns] for part, frame in parts.items()}
        self.labels = {
            part: np.array([classes.index(v) for v in frame[data["label"]]]) for part, frame in parts.items()
        }

    @staticmethod
    def read(path: str) -> pd.DataFrame:
        return pd.read_parquet(path) if path.endswith(".parquet") else pd.read_csv(path)


def lira(audit: Audit, shadows: int) -> dict:
    """SACRO-ML's LiRA AUC per mode."""
    aucs = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, (mode, fixed) in MODES.items():
            attack = LIRAAttack(
                output_dir=folder, write_report=False, n_shadow_models=shadows, mode=mode, fix_variance=fixed
            )
            attack._run(  # its Target wrapper would clone the pipeline without a seed per step
                ShadowEstimator(clone(audit.model), audit.records["members"].dtypes),
                audit.records["members"].to_numpy(object),
                audit.labels["members"],
                audit.model.predict_proba(audit.records["members"]),
                audit.records["non_members"].to_numpy(object),
                audit.labels["non_members"],
                audit.model.predict_proba(audit.records["non_members"]),
            )
            aucs[name] = attack.attack_metrics[0]["AUC"]
    return aucs


def boundary(audit: Audit, records: int, iterations: int, evaluations: int) -> dict:
    """ART's HopSkipJump boundary distance on ``records`` members and as many non-members."""
    rng = np.random.default_rng(0)
    picked = {part: rng.choice(len(audit.labels[part]), records, replace=False) for part in audit.records}
    x = np.vstack([audit.records[part].to_numpy(float)[picked[part]] for part in picked])
    y = np.concatenate([audit.labels[part][picked[part]] for part in picked])
    queries = [0]

    def predict(batch: np.ndarray) -> np.ndarray:
        queries[0] += len(batch)
        return audit.model.predict_proba(pd.DataFrame(batch, columns=audit.columns))

    k = len(audit.model.classes_)
    spread = float(x.max() - x.min())
    model = BlackBoxClassifier(
        predict, input_shape=(x.shape[1],), nb_classes=k, clip_values=(x.min() - spread, x.max() + spread)
    )
    attack = HopSkipJump(
        model, targeted=False, norm=2, max_iter=iterations, max_eval=evaluations, init_eval=100, verbose=False
    )
    start = time.perf_counter()
    distance = np.linalg.norm(attack.generate(x=x, y=np.eye(k)[y]) - x, axis=1)
    distance[predict(x).argmax(axis=1) != y] = 0.0
    is_member = np.r_[np.ones(records), np.zeros(records)]
    return {
        "auc": roc_auc_score(is_member, distance),
        "records": 2 * records,
        "queries_per_record": queries[0] / (2 * records),
        "seconds": time.perf_counter() - start,
    }


def main() -> None:
    logging.disable(logging.INFO)
    command, config, *numbers = sys.argv[1:]
    audit = Audit(json.loads(Path(config).read_text()))
    run = {"lira": lira, "boundary": boundary}[command]
    print(json.dumps(run(audit, *map(int, numbers))))


if __name__ == "__main__":
    main()

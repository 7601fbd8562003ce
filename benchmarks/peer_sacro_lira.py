"""SACRO-ML's LiRA on an audit's scikit-learn target, run in the peers' environment (`make peers-env`).

    .venv-peers/bin/python benchmarks/peer_sacro_lira.py AUDIT.json SHADOWS

AUDIT.json is a dynaudit audit config (a `table` data kind and an `sklearn` target); this script reads the
members, the non-members and the skops model itself and imports nothing of dynaudit (SACRO-ML 2.0.1 needs
pandas < 3). SACRO-ML trains SHADOWS clones of the target, each on a random set of as many records as the
members drawn from members and non-members together, and scores each record with its modes. Its shadow
models are trained once, in a temporary folder, and shared by the modes. Printed: one JSON object, mode ->
AUC. The target's `set_params(random_state=...)` is applied to every step of a pipeline that has one.
"""

import json
import logging
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import skops.io as sio
from sacroml.attacks.likelihood_attack import LIRAAttack
from sklearn.base import clone

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


def read_part(data: dict, part: str) -> pd.DataFrame:
    path = Path(data[part])
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)


def main() -> None:
    logging.disable(logging.INFO)
    config, shadows = json.loads(Path(sys.argv[1]).read_text()), int(sys.argv[2])
    data, path = config["data"], config["target"]["path"]
    model = sio.load(path, trusted=sio.get_untrusted_types(file=path))
    members, non_members = read_part(data, "members"), read_part(data, "non_members")
    columns = [c for c in members.columns if c not in (data["label"], data.get("id"))]
    classes = list(model.classes_)  # SACRO-ML reads the label's column: labels as positions in classes_
    records = {part: frame[columns] for part, frame in (("in", members), ("out", non_members))}
    labels = {
        part: np.array([classes.index(v) for v in frame[data["label"]]])
        for part, frame in (("in", members), ("out", non_members))
    }
    aucs = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, (mode, fixed) in MODES.items():
            attack = LIRAAttack(
                output_dir=folder, write_report=False, n_shadow_models=shadows, mode=mode, fix_variance=fixed
            )
            attack._run(  # the Target wrapper would clone the pipeline without a seed per step
                ShadowEstimator(clone(model), members[columns].dtypes),
                records["in"].to_numpy(object),
                labels["in"],
                model.predict_proba(records["in"]),
                records["out"].to_numpy(object),
                labels["out"],
                model.predict_proba(records["out"]),
            )
            aucs[name] = attack.attack_metrics[0]["AUC"]
    print(json.dumps(aucs))


if __name__ == "__main__":
    main()

"""The references' fidelity to the target: measured from the same outputs the attacks use, stated in
metrics.parquet, the manifest and the report, and a warning when they are clearly unlike the target."""

import json

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.ensemble import RandomForestClassifier

from audit_core.audit.fidelity import fidelity_advice, reference_fidelity
from audit_core.audit.signals import LogitSet, ReferenceLogits, Signals
from audit_core.audit.write import write_run_folder
from audit_core.training.references import complementary_in_masks
from tests.audit_core.byo import config, run_audit, tabular_parts, write_tables


def _logits_with_accuracy(labels: np.ndarray, correct: np.ndarray) -> np.ndarray:
    """Two-class logits whose argmax is the label exactly where ``correct`` holds."""
    predicted = np.where(correct, labels, 1 - labels)
    return np.eye(2)[predicted] * 3.0


def _signals(
    rng: np.random.Generator, target: tuple[float, float], reference: tuple[float, float]
) -> Signals:
    """200 members and 200 non-members; the target right on ``target`` = (members, non-members) fractions,
    16 references right on ``reference`` = (IN points, OUT points) fractions."""
    n = 200
    labels = rng.integers(0, 2, size=2 * n)
    ids = np.array([f"r{i}" for i in range(2 * n)])

    def part(rows: slice, accuracy: float) -> LogitSet:
        correct = rng.random(n) < accuracy
        return LogitSet(_logits_with_accuracy(labels[rows], correct), labels[rows], ids[rows])

    in_mask = complementary_in_masks(2 * n, 16, rng)
    audit = np.stack(
        [
            _logits_with_accuracy(
                labels, np.where(mask, rng.random(2 * n) < reference[0], rng.random(2 * n) < reference[1])
            )
            for mask in in_mask
        ]
    )
    members, non_members = part(slice(0, n), target[0]), part(slice(n, 2 * n), target[1])
    refs = ReferenceLogits(audit, in_mask, np.zeros((16, 0, 2)), np.zeros(0, dtype=int))
    return Signals(members, non_members, members, references=refs)


def test_fidelity_is_each_references_accuracy_on_its_in_and_out_points():
    signals = _signals(np.random.default_rng(0), (1.0, 0.9), (1.0, 0.9))
    fidelity = reference_fidelity(signals, "16 test models", fidelity_advice("recipe", "sklearn"))
    refs = signals.references
    correct = refs.audit.argmax(-1) == signals.audit_labels
    held_out = [correct[r][~refs.in_mask[r]].mean() for r in range(16)]
    assert fidelity.held_out_mean == np.mean(held_out) and fidelity.held_out_std == np.std(held_out)
    assert fidelity.train_mean == 1.0 and fidelity.target_train == 1.0
    assert (
        fidelity.target_held_out
        == (signals.non_members.logits.argmax(1) == signals.non_members.labels).mean()
    )
    assert fidelity.warning() is None, fidelity.statement()
    assert fidelity.statement().startswith("16 test models on complementary halves of the 400 audit points")


@pytest.mark.parametrize(
    ("reference_kind", "target_kind", "advised"),
    [
        ("recipe", "onnx", "give references of the target's own kind (references.kind)"),
        ("recipe", "trained", "check the audit's data"),
        ("architecture", "torch_state_dict", "train them as the target was trained (recipe: epochs"),
        ("clone", "sklearn", "check that data.members are the records it was trained on"),
        ("function", "onnx", "check that references.function trains as the target was trained"),
        ("predictions", "onnx", "check that the reference predictions come from models trained as"),
    ],
)
def test_references_that_generalise_unlike_the_target_are_warned_about(reference_kind, target_kind, advised):
    """The warning says what to check for the references' kind: references already of the target's own kind
    are not told to be of the target's own kind."""
    fidelity = reference_fidelity(
        _signals(np.random.default_rng(1), (1.0, 0.6), (0.95, 0.93)),
        "16 test models",
        fidelity_advice(reference_kind, target_kind),
    )
    warning = fidelity.warning()
    expected = (
        f"held-out accuracy {fidelity.held_out_mean:.2f} against the target's {fidelity.target_held_out:.2f}"
    )
    assert warning is not None and expected in warning
    assert "train-test gap" in warning and advised in warning
    assert ("references.kind)" in warning) == (reference_kind == "recipe" and target_kind != "trained")


def test_fidelity_rows_in_metrics_parquet_the_manifest_and_the_report(tmp_path):
    x, y, _ = tabular_parts()["members"]
    sio.dump(RandomForestClassifier(n_estimators=20, random_state=0).fit(x, y), tmp_path / "forest.skops")
    audit = config(
        tmp_path,
        data={"kind": "table", "id": "id", **write_tables(tmp_path, ".parquet")},
        target={"kind": "sklearn", "path": str(tmp_path / "forest.skops")},
        attacks=["lira_offline"],
        knowledge=["naive"],
        defenses=[],
    )
    run_dir = write_run_folder(audit, run_audit(audit), [])
    metrics = pd.read_parquet(run_dir / "metrics.parquet").set_index("metric")
    manifest = json.loads((run_dir / "manifest.json").read_text())["reference_fidelity"]
    assert metrics.loc["reference_held_out_accuracy", "value"] == manifest["held_out_mean"]
    assert metrics.loc["target_train_accuracy", "value"] == 1.0  # a forest memorises its members
    assert "over 4 reference models" in metrics.loc["reference_train_test_gap", "note"]
    assert manifest["statement"].startswith("4 clones of RandomForestClassifier(n_estimators=20")
    report = (run_dir / "report.html").read_text()
    assert "Fidelity to the target: 4 clones of RandomForestClassifier" in report

"""A config per reference kind through ``dynaudit audit`` (a real Prefect server): the shadow and the
reference models of the target's own kind, or read from the user's table."""

import json

import pandas as pd
import pytest
import skops.io as sio
import torch
import yaml
from sklearn.ensemble import RandomForestClassifier

from tests.audit_core.byo import (
    N_CLASSES,
    N_FEATURES,
    RECIPE,
    member_mlp,
    tabular_parts,
    write_reference_predictions,
    write_tables,
)

FUNCTION = "tests.audit_core.models:train_forest"


def _forest(tmp_path) -> dict:
    x, y, _ = tabular_parts()["members"]
    sio.dump(RandomForestClassifier(n_estimators=20, random_state=0).fit(x, y), tmp_path / "forest.skops")
    return {"kind": "sklearn", "path": str(tmp_path / "forest.skops")}


def _state_dict(tmp_path) -> dict:
    torch.save(member_mlp().state_dict(), tmp_path / "weights.pt")
    return {
        "kind": "torch_state_dict",
        "weights": str(tmp_path / "weights.pt"),
        "architecture": "tests.audit_core.models:mlp",
        "architecture_kwargs": {"n_features": N_FEATURES, "n_classes": N_CLASSES},
    }


def _onnx_free_black_box(tmp_path) -> dict:
    """A target dynaudit cannot know the training of: the MLP's logits on every record, as a table."""
    module, rows = member_mlp(), []
    for x, _, ids in tabular_parts().values():
        with torch.no_grad():
            rows.append(
                pd.DataFrame(module(torch.as_tensor(x)).numpy(), columns=["z0", "z1", "z2"]).assign(id=ids)
            )
    pd.concat(rows).to_parquet(tmp_path / "logits.parquet")
    return {"kind": "predictions", "path": str(tmp_path / "logits.parquet")}


# case -> (target, references section, shadow section)
CASES = {
    "auto-clone": (_forest, {"kind": "auto"}, {"kind": "auto"}),
    "clone": (_forest, {"kind": "clone"}, {"kind": "clone"}),
    "architecture": (_state_dict, {"kind": "architecture"}, {"kind": "architecture"}),
    "function": (
        _onnx_free_black_box,
        {"kind": "function", "function": FUNCTION},
        {"kind": "function", "function": FUNCTION},
    ),
    "predictions": (_onnx_free_black_box, "table", {"kind": "none"}),
    "recipe": (_forest, {"kind": "recipe"}, {"kind": "trained"}),
}


@pytest.mark.slow  # a Prefect flow run each, about a minute on a loaded 2-core machine
@pytest.mark.parametrize("case", sorted(CASES))
def test_each_reference_kind_runs_end_to_end(dynaudit, tmp_path, case):
    target, references, shadow = CASES[case]
    if references == "table":
        references = {"kind": "predictions", "path": write_reference_predictions(tmp_path / "refs.parquet")}
    config = {
        "run_name": case,
        "data": {"kind": "table", "id": "id", **write_tables(tmp_path, ".parquet")},
        "target": target(tmp_path),
        "references": references,
        "shadow": shadow,
        "reference_models": 4,
        "recipe": RECIPE,
        "attacks": ["loss", "lira_offline", "rmia"],
        "knowledge": ["naive"],
        "defenses": [],
        "cache_dir": str(tmp_path / "cache"),
    }
    (tmp_path / "audit.yaml").write_text(yaml.safe_dump(config))
    result = dynaudit(["audit", "audit.yaml", "--output-dir", "out"], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = pd.read_parquet(tmp_path / "out" / case / "latest" / "metrics.parquet")
    skipped = set(metrics.loc[metrics.metric == "skipped", "attack"])
    assert skipped == ({"loss"} if shadow["kind"] == "none" else set())
    warned = [line for line in result.stdout.splitlines() if "did not run" in line]  # not only in the report
    reasons = metrics.loc[metrics.metric == "skipped", "note"].unique()
    assert warned == [f"Warning: 1 attack did not run: loss ({reason})." for reason in reasons]
    auc = metrics[(metrics.metric == "auc") & (metrics.attack == "lira_offline") & (metrics.slice == "all")]
    assert len(auc) == 1 and 0.0 <= auc.value.iloc[0] <= 1.0
    manifest = json.loads((tmp_path / "out" / case / "latest" / "manifest.json").read_text())
    assert manifest["config"]["references"] == {**manifest["config"]["references"], **references}

"""Bring-your-own model through Prefect: a YAML config with a user's model, and an error found mid-flow."""

import json

import pandas as pd
import skops.io as sio
import yaml
from sklearn.linear_model import LogisticRegression

from audit_core.audit.inputs import PROBE_ROWS
from audit_core.core.files import sha256_file
from audit_core.data.probe import spread_rows
from flows.cli import main
from tests.audit_core.byo import RECIPE, class_images, tabular_parts, write_image_folder, write_tables


def test_cli_audits_a_users_skops_model_from_a_yaml_config(dynaudit, tmp_path):
    x, y, _ = tabular_parts()["members"]
    sio.dump(LogisticRegression(C=100.0, max_iter=2000).fit(x, y), tmp_path / "model.skops")
    config = {
        "run_name": "byo",
        "data": {"kind": "table", "id": "id", **write_tables(tmp_path, ".parquet")},
        "target": {"kind": "sklearn", "path": str(tmp_path / "model.skops")},
        "recipe": RECIPE,
        "attacks": ["loss", "label_only"],
        "knowledge": ["naive"],
        "reference_models": 0,
        "cache_dir": None,
    }
    (tmp_path / "byo.yaml").write_text(yaml.safe_dump(config))
    result = dynaudit(["audit", "byo.yaml", "--output-dir", "out"], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = pd.read_parquet(tmp_path / "out" / "byo" / "latest" / "metrics.parquet")
    assert set(metrics.attack.dropna()) == {"loss", "label_only"} and "skipped" not in set(metrics.metric)
    manifest = json.loads((tmp_path / "out" / "byo" / "latest" / "manifest.json").read_text())
    assert manifest["fingerprints"]["target"] == sha256_file(tmp_path / "model.skops")
    assert manifest["config"]["target"]["kind"] == "sklearn"
    assert manifest["data"]["sources"]["members"] == str(tmp_path / "members.parquet")


def test_a_bad_input_found_during_the_flow_exits_2_and_writes_nothing(prefect_api_url, tmp_path, capsys):
    """The input check probes 16 records per part; this model only breaks on larger batches."""
    config = {
        "run_name": "late",
        "data": {"kind": "table", "id": "id", **write_tables(tmp_path, ".parquet")},
        "target": {"kind": "callable", "function": "tests.audit_core.models:late_nan_logits"},
        "references": {"kind": "recipe"},
        "shadow": {"kind": "trained"},
        "recipe": RECIPE,
        "output_dir": str(tmp_path / "out"),
    }
    (tmp_path / "late.yaml").write_text(yaml.safe_dump(config))
    assert main(["audit", str(tmp_path / "late.yaml")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "ERROR" not in err  # Prefect's lines about it stay in Prefect
    last_line = err.strip().splitlines()[-1]
    assert (
        last_line.startswith("dynaudit: The target on the members set")
        and "gave NaN or infinite" in last_line
    )
    assert not (tmp_path / "out").exists()


def test_an_unreadable_image_the_input_check_did_not_probe_stops_the_flow_with_exit_2(dynaudit, tmp_path):
    """The input check decodes only 16 images spread over each part; the flow's full load finds the rest."""
    parts = {}
    for seed, part in enumerate(("members", "non_members", "population", "test")):
        images, labels = class_images(2 * PROBE_ROWS * (1 + (part == "population")), seed)
        parts[part] = str(write_image_folder(tmp_path / part, images, labels, ["a", "b", "c"]))
    files = sorted((tmp_path / "members").glob("*/*.png"))
    unprobed = files[min(set(range(len(files))) - set(spread_rows(len(files), PROBE_ROWS)))]
    unprobed.write_bytes(b"not an image")
    config = {
        "run_name": "late-image",
        "data": {"kind": "image_folder", **parts},
        "target": {"kind": "trained"},
        "recipe": RECIPE,
    }
    (tmp_path / "late.yaml").write_text(yaml.safe_dump(config))
    result = dynaudit(["audit", "late.yaml", "--output-dir", "out"], tmp_path)
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr and "ERROR" not in result.stderr
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line == (
        f"dynaudit: data.members: '{unprobed}' is not a readable image; expected an image file."
    )
    assert not (tmp_path / "out").exists()

"""Runs on shared storage: ``dynaudit audit`` writes its run folder to an s3:// bucket on a real
S3-compatible server (moto's server mode), ``dynaudit gate --previous`` reads the last run from there, and
the report link artifact is a presigned URL that opens the report."""

import json
import re
import urllib.request
from typing import Any

import fsspec
import pytest
import yaml
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from prefect.client.schemas.sorting import ArtifactSort

from tests.flows.test_gate_cli import TINY

SHARED = {**TINY, "run_name": "shared"}  # its output_dir is set per test
STRICT = {"condition": "undefended", "max_auc": 0.5, "max_regression": 0.5}


def _latest_artifact(key: str):
    with get_client(sync_client=True) as client:
        [artifact] = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
            sort=ArtifactSort.CREATED_DESC,
            limit=1,
        )
    return artifact


def _run_to_s3(dynaudit, tmp_path, args: list[str], config: dict, root: str) -> tuple[Any, Any, str]:
    """``dynaudit ARGS`` on ``config`` (written as ``run.yaml``), which must succeed; the S3 file system and
    the id of the newest run under ``root``."""
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(config))
    result = dynaudit([*args, "run.yaml"], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    fs = fsspec.filesystem("s3")
    fs.invalidate_cache()
    return result, fs, fs.cat_file(f"{root}/latest").decode()


@pytest.mark.slow
def test_an_audit_on_s3_and_a_gate_that_reads_previous_from_there(dynaudit, s3_endpoint, s3_bucket, tmp_path):
    output_dir = f"{s3_bucket}/audits"
    root = f"{output_dir}/shared"
    shared = {**SHARED, "output_dir": output_dir}
    audited, fs, first = _run_to_s3(dynaudit, tmp_path, ["audit"], shared, root)
    (tmp_path / "strict.yaml").write_text(yaml.safe_dump(STRICT))
    assert f"Report: {root}/{first}/report.pdf and {root}/{first}/report.html" in audited.stdout
    manifest = json.loads(fs.cat_file(f"{root}/{first}/manifest.json"))
    assert sorted(manifest["files"]) == sorted(
        ["averaging.parquet", "metrics.parquet", "report.html", "report.pdf", "roc.parquet", "scores.parquet"]
    )
    assert not (tmp_path / "out").exists(), "nothing is written locally"

    [url] = re.findall(r"\]\((http\S+)\)$", _latest_artifact("audit-report-shared").data)
    assert url.startswith(
        f"{s3_endpoint}/{s3_bucket.removeprefix('s3://')}/audits/shared/{first}/report.html?"
    )
    assert "Signature=" in url, "a presigned URL"
    with urllib.request.urlopen(url) as response:
        assert b"<html" in response.read(2000).lower()
    summary = _latest_artifact("audit-shared").data
    assert f"Full report: `{root}/{first}/report.html`" in summary and "| undefended | — |" in summary

    gated = dynaudit(["gate", "run.yaml", "--policy", "strict.yaml", "--previous", root], tmp_path)
    assert gated.returncode == 1, gated.stderr[-3000:]
    assert "### Against the previous run" in gated.stdout
    fs.invalidate_cache()
    second = fs.cat_file(f"{root}/latest").decode()
    assert second > first
    verdict = json.loads(fs.cat_file(f"{root}/{second}/manifest.json"))["verdict"]
    assert verdict["comparison"] is not None and not verdict["passed"]

    listing = dynaudit(["runs", "shared", "--output-dir", output_dir], tmp_path)
    assert listing.returncode == 0, listing.stderr
    rows = [line for line in listing.stdout.splitlines() if line.startswith("| 2")]
    assert [row.split(" | ")[0] for row in rows] == [f"| {first}", f"| {second}"]
    assert "| no policy |" in rows[0] and "| FAILED |" in rows[1]


def test_a_missing_bucket_is_refused_before_any_work(run_cli, s3_endpoint, tmp_path):
    (tmp_path / "shared.yaml").write_text(yaml.safe_dump({**SHARED, "output_dir": "s3://no-such-bucket/out"}))
    result = run_cli(["audit", "shared.yaml"], tmp_path, api_url="http://127.0.0.1:9/api")
    assert result.returncode == 2
    assert result.stderr == (
        "dynaudit: Output directory 's3://no-such-bucket/out': bucket 'no-such-bucket' does not exist; "
        "create it first.\n"
    )


@pytest.mark.slow
def test_a_tuning_on_s3_ends_with_its_choice_read_back_from_there(dynaudit, s3_bucket, tmp_path):
    output_dir = f"{s3_bucket}/tunings"
    root = f"{output_dir}/shared-tune"
    tuned = {**SHARED, "output_dir": output_dir, "tune": {"n_trials": 4, "budget": 0.5, "baselines": False}}
    result, fs, latest = _run_to_s3(dynaudit, tmp_path, ["tune"], tuned, root)
    run = f"{root}/{latest}"
    params = json.loads(fs.cat_file(f"{run}/dynanoise-params.json"))
    chosen = "dynanoise(sigma0_sq={sigma0_sq:g}, lam={lam:g}, T={temperature:g}, per_input)".format(
        **params["params"]
    )
    lines = result.stdout.strip().splitlines()
    [conclusion] = [line for line in lines if line.startswith("Chosen DynaNoise: ")]
    assert conclusion.startswith(f"Chosen DynaNoise: {chosen}, the highest midput within the budget among 4 ")
    assert lines[-1].startswith(
        f"Parameters: {run}/dynanoise-params.json; every trial in {run}/tuning.parquet"
    )
    assert not (tmp_path / "out").exists(), "nothing is written locally"

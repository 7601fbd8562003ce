"""``dynaudit gate`` from a subprocess, as CI runs it: exit 0 when the policy holds, 1 when it is broken,
2 on bad input; JUnit XML and a markdown summary; regressions against the last run of a run name; every run
kept and listed by ``dynaudit runs``."""

import json
import re
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest
import yaml
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowFilter, FlowFilterName
from prefect.client.schemas.sorting import FlowRunSort

from flows.cli import main
from tests.audit_core.byo import skops_on_tables, tabular_parts

TINY = {
    "run_name": "tiny",
    "recipe": {"epochs": 20},
    "data": {"n_members": 100, "n_non_members": 100, "n_population": 200},
    "reference_models": 0,
    "attacks": ["confidence", "loss"],
    "knowledge": ["naive", "adaptive"],
    "max_queries": 1,
    "cache_dir": "cache",
    "output_dir": "out",
}
# 100 non-members cannot show any model's TPR at 1% FPR within 0.02: that rule is undecided, too small.
LENIENT = {"max_auc": 0.99, "max_tpr_at_1pct_fpr": 0.02, "max_accuracy_drop": 0.9}
# No audit can show an AUC within 0.5 (its upper bound is above it): max_auc fails, shown above the limit or
# unresolved.
STRICT = {
    "condition": "any_defended",
    "unresolved": "fail",
    "max_auc": 0.5,
    "max_advantage": 0.99,
    "max_regression": 0.5,
}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gate")
    # another config than the passed run's: a second defense (a condition the previous run lacks)
    other = {**TINY, "defenses": [{"name": "dynanoise"}, {"name": "temperature"}]}
    files = {"tiny": other, "tiny-with-policy": {**TINY, "policy": LENIENT}, "strict": STRICT}
    for name, content in files.items():
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(content))
    return folder


@pytest.fixture(scope="module")
def passed(dynaudit, workdir):
    """The gate with the config's own policy (no --policy)."""
    args = ["gate", "tiny-with-policy.yaml", "--junit", "reports/pass.xml"]
    return dynaudit([*args, "--summary", "reports/pass.md"], workdir)


@pytest.mark.slow
def test_a_policy_none_of_whose_rules_is_broken_exits_0_with_a_junit_file_and_a_summary(passed, workdir):
    assert passed.returncode == 0, passed.stderr[-3000:]
    suite = ET.parse(workdir / "reports" / "pass.xml").getroot().find("testsuite")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert list(cases) == ["max_auc", "max_tpr_at_1pct_fpr", "max_accuracy_drop"]
    assert suite.get("failures") == "0" and not suite.findall("testcase/failure")
    # the 1%-FPR threshold rests on the few highest of 100 non-member scores: undecided, passed with a warning
    skipped = cases["max_tpr_at_1pct_fpr"].find("skipped")
    assert suite.get("skipped") == "1" and "the audit is too small" in skipped.get("message")
    summary = (workdir / "reports" / "pass.md").read_text()
    assert summary.startswith("## dynaudit gate `tiny`: UNRESOLVED\n\nUNRESOLVED on dynanoise(")
    assert "2 of 3 rules shown to hold, none broken; not decided: max_tpr_at_1pct_fpr" in summary
    assert "family-wise false-alarm rate at most 0.05" in summary and "Deploy the chosen defense" in summary
    assert (
        "UNRESOLVED" in passed.stdout and (workdir / "out" / "tiny" / "latest" / "metrics.parquet").is_file()
    )
    manifest = json.loads((workdir / "out" / "tiny" / "latest" / "manifest.json").read_text())
    assert manifest["verdict"]["passed"] is True and manifest["verdict"]["status"] == "UNRESOLVED"
    with get_client(sync_client=True) as client:
        [run] = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=["dynaudit-gate"])),
            sort=FlowRunSort.START_TIME_DESC,
            limit=1,
        )
    assert run.state.is_completed() and run.state.name == "Unresolved"  # so named in Prefect's run list
    assert run.state.message.startswith("UNRESOLVED on dynanoise(")


@pytest.fixture(scope="module")
def failed(passed, dynaudit, workdir):
    """The same audit under a strict policy, compared with the last run of ``tiny`` (the passing one)."""
    first = (workdir / "out" / "tiny" / "latest").resolve()
    args = ["gate", "tiny.yaml", "--policy", "strict.yaml", "--previous", "tiny"]
    return first, dynaudit([*args, "--junit", "reports/fail.xml"], workdir)


@pytest.mark.slow
def test_a_broken_policy_exits_1_and_reports_the_rule_and_the_comparison(failed, workdir):
    first, result = failed
    assert result.returncode == 1, result.stderr[-3000:]
    cases = {c.get("name"): c for c in ET.parse(workdir / "reports" / "fail.xml").getroot().iter("testcase")}
    assert list(cases) == ["max_auc", "max_advantage", "max_regression"]
    failure = cases["max_auc"].find("failure")
    assert failure is not None and failure.get("message").startswith("max_auc")  # shown above, or unresolved
    assert cases["max_advantage"].find("failure") is None
    # a tiny audit cannot show a rise within 0.5 (each run's bounds at half the error): unresolved fails
    regression = cases["max_regression"].find("failure")
    assert regression.get("type") == "Unresolved" and "max_regression is unresolved" in regression.get(
        "message"
    )
    assert (
        "### Against the previous run" in result.stdout
        and "| max_auc | the chosen defense, " in result.stdout
    )
    assert "The previous run audited another config" in result.stdout
    new = result.stdout.split("New in this run (")[1].split("\n")[0]
    assert "temperature(" in new and "| max_auc | temperature(" not in result.stdout
    with get_client(sync_client=True) as client:
        [run] = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=["dynaudit-gate"])),
            sort=FlowRunSort.START_TIME_DESC,
            limit=1,
        )
    assert run.state.is_failed() and run.state.message.startswith("FAILED on dynanoise(")
    assert ": 2 of 3 rules broken: max_auc" in run.state.message
    verdict = json.loads((workdir / "out" / "tiny" / "latest" / "manifest.json").read_text())["verdict"]
    assert not verdict["passed"] and verdict["comparison"]["gone"] == [] and verdict["comparison"]["new"]
    assert [r["rule"] for r in verdict["rules"]] == list(cases), "the report states the gate's verdict"
    assert run.name.startswith("gate-tiny-trained-mlp-")
    assert (workdir / "out" / "tiny" / "latest").resolve() != first, "the gate's audit is a new run"


@pytest.mark.slow
def test_both_runs_are_kept_and_listed_with_their_verdicts(failed, run_cli, workdir):
    first, _ = failed
    second = (workdir / "out" / "tiny" / "latest").resolve()
    assert sorted(p.name for p in (workdir / "out" / "tiny").iterdir()) == sorted(
        [first.name, second.name, "latest"]
    )
    assert json.loads((first / "manifest.json").read_text())["verdict"]["passed"] is True
    listing = run_cli(["runs", "tiny"], workdir, api_url=None)
    assert listing.returncode == 0, listing.stderr
    rows = [line for line in listing.stdout.splitlines() if line.startswith("| 2")]
    assert [row.split(" | ")[0] for row in rows] == [f"| {first.name}", f"| {second.name}"]
    assert "| UNRESOLVED |" in rows[0] and "| FAILED |" in rows[1]
    assert all("| dynanoise(sigma0_sq=0.3, lam=2, T=10) |" in row for row in rows)


def test_runs_of_an_unknown_name_exit_2_with_one_sentence(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["runs", "nightly"]) == 2
    assert capsys.readouterr().err == (
        "dynaudit: No complete run of 'nightly' under 'out'; expected the run_name of an audit written "
        "there.\n"
    )


def test_bad_input_exits_2_with_one_sentence_and_writes_nothing(run_cli, tmp_path):
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    (tmp_path / "policy.yaml").write_text("max_auc: 2\n")
    args = ["gate", "tiny.yaml", "--policy", "policy.yaml", "--junit", "junit.xml", "--summary", "gate.md"]
    result = run_cli(args, tmp_path, api_url="http://127.0.0.1:9/api")
    assert result.returncode == 2, result.stderr
    assert (
        result.stderr
        == "dynaudit: policy.yaml: field 'max_auc' = 2 is invalid: Input should be less than or equal to 1.\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["policy.yaml", "tiny.yaml"]


def test_a_gate_without_any_policy_exits_2(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    assert main(["gate", "tiny.yaml"]) == 2
    assert capsys.readouterr().err == (
        "dynaudit: dynaudit gate needs a policy: pass --policy POLICY.yaml or add a 'policy:' section to "
        "tiny.yaml.\n"
    )
    assert [p.name for p in tmp_path.iterdir()] == ["tiny.yaml"]


@pytest.mark.parametrize(
    ("extra", "sentence"),
    [
        (["--previous", "nope.parquet"], "Metrics file 'nope.parquet' does not exist"),
        (["--previous", "nightly"], "--previous: 'nightly' is neither a metrics.parquet, a run folder"),
        (["--previous", "tiny.yaml"], "Metrics file 'tiny.yaml' is not a readable Parquet file"),
        (["--junit", "tiny.yaml/gate.xml"], "Output directory 'tiny.yaml' cannot be created"),
    ],
)
def test_bad_paths_exit_2_before_any_audit_work(tmp_path, monkeypatch, capsys, extra, sentence):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    (tmp_path / "policy.yaml").write_text("max_auc: 0.6\n")
    assert main(["gate", "tiny.yaml", "--policy", "policy.yaml", *extra]) == 2
    assert sentence in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["policy.yaml", "tiny.yaml"]


@pytest.mark.slow
def test_a_model_of_class_names_gated_twice_is_compared_as_the_same_config(dynaudit, tmp_path):
    """A scikit-learn model fitted on class names, its tables labelled so and no data.classes: the audit
    reads the names from the model, and a second gate of the same config against the first run compares
    like with like (no other-config warning) and names a class limit's value by its class."""
    names = np.array(["cat", "dog", "eel"])
    config = skops_on_tables(tmp_path, "named", fit_labels=lambda y: names[y])
    for part in tabular_parts():
        table = tmp_path / f"{part}.parquet"
        pd.read_parquet(table).assign(label=lambda f: names[f.label]).to_parquet(table)
    small = {"attacks": ["loss", "rmia"], "knowledge": ["naive"], "max_queries": 1}
    (tmp_path / "named.yaml").write_text(yaml.safe_dump({**config, **small}))
    (tmp_path / "policy.yaml").write_text(yaml.safe_dump({"condition": "undefended", "max_class_auc": 0.99}))
    first = dynaudit(["gate", "named.yaml", "--policy", "policy.yaml"], tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    second = dynaudit(["gate", "named.yaml", "--policy", "policy.yaml", "--previous", "named"], tmp_path)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "audited another config" not in second.stdout
    assert re.search(r"class=\d \((cat|dog|eel)\) \(\d+/\d+ points\)", second.stdout)

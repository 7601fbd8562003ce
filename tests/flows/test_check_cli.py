"""``dynaudit check``: a config and everything it names checked as an audit checks them before any work,
with nothing trained, run or written and no Prefect server started."""

from pathlib import Path

import pandas as pd
import pytest
import yaml

from flows import cli
from flows.cli import main
from tests.audit_core.byo import skops_on_tables, tabular_parts


def _not_started(*_: object) -> None:
    raise AssertionError("dynaudit check must not start a Prefect server or run a flow")


@pytest.fixture
def audit_yaml(tmp_path, monkeypatch) -> Path:
    """A valid audit of a scikit-learn model on Parquet tables, with a policy; no server may start."""
    monkeypatch.setattr(cli, "start_temporary_server", _not_started)
    monkeypatch.setattr(cli, "_run", _not_started)
    config = {**skops_on_tables(tmp_path, "checked"), "policy": {"max_auc": 0.6}}
    path = tmp_path / "audit.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_a_ready_config_is_summed_up_and_nothing_is_written(audit_yaml, capsys):
    before = set(audit_yaml.parent.rglob("*"))
    assert main(["check", str(audit_yaml)]) == 0
    lines = capsys.readouterr().out.splitlines()
    sizes = {part: len(pd.read_parquet(audit_yaml.parent / f"{part}.parquet")) for part in tabular_parts()}
    assert lines[0] == f"{audit_yaml}: ready to audit (nothing was trained, run or written)."
    assert lines[1] == (
        f"data: {sizes['members']} members, {sizes['non_members']} non-members, {sizes['population']} "
        f"population and {sizes['test']} test records of 3 classes (table)"
    )
    assert lines[2] == "target: sklearn; shadow: clone; reference models: 4 (clone)"
    assert lines[-1] == "policy: max_auc 0.6 on condition 'chosen'"
    assert set(audit_yaml.parent.rglob("*")) == before


@pytest.mark.parametrize(
    ("edit", "policy", "sentence"),
    [
        ({"data": {"kind": "table", "members": "nope.parquet"}}, None, "required field 'data.non_members'"),
        ({"target": {"kind": "sklearn", "path": "nope.skops"}}, None, "file 'nope.skops' does not exist"),
        ({}, "max_aux: 0.6\n", "unknown field 'max_aux'; did you mean 'max_auc'?"),
        ({}, "max_auc: 0.6\ncondition: hamp\n", "Policy condition 'hamp' is no defense of the config"),
    ],
)
def test_a_bad_config_input_or_policy_is_one_sentence_and_exit_2(audit_yaml, capsys, edit, policy, sentence):
    config = {**yaml.safe_load(audit_yaml.read_text()), **edit}
    audit_yaml.write_text(yaml.safe_dump(config))
    args = ["check", str(audit_yaml)]
    if policy is not None:
        (audit_yaml.parent / "policy.yaml").write_text(policy)
        args += ["--policy", str(audit_yaml.parent / "policy.yaml")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert sentence in err and err.startswith("dynaudit: ") and err.count("\n") == 1


def test_the_class_names_read_from_a_models_classes_are_said(tmp_path, monkeypatch, capsys):
    """A model fitted on labels 1..3 and tables labelled so, with no data.classes: the labels are read as
    the model's classes_, and the data line says so."""
    monkeypatch.setattr(cli, "start_temporary_server", _not_started)
    monkeypatch.setattr(cli, "_run", _not_started)
    config = skops_on_tables(tmp_path, "named", fit_labels=lambda y: y + 1)
    for part in tabular_parts():
        table = tmp_path / f"{part}.parquet"
        pd.read_parquet(table).assign(label=lambda f: f.label + 1).to_parquet(table)
    (tmp_path / "audit.yaml").write_text(yaml.safe_dump(config))
    assert main(["check", str(tmp_path / "audit.yaml")]) == 0
    assert (
        capsys.readouterr()
        .out.splitlines()[1]
        .endswith(
            "records of 3 classes (table; labels read as the names [1, 2, 3] of the classes_ of target.path "
            f"'{tmp_path}/model.skops')"
        )
    )

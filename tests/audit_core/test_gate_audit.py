"""The gate on real audits: a target whose "members" never trained it passes the shipped policy, a defense
that keeps every prediction costs exactly nothing, and the policy aims at the condition it names."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import torch

from audit_core.audit.run import run_audit
from audit_core.config import parse_config
from audit_core.gate.check import GatePolicy, check_gate
from audit_core.gate.inputs import load_policy
from audit_core.results.summary import conclusion
from tests.audit_core.byo import FEATURES, N_CLASSES, N_FEATURES, RECIPE, blobs, train_torch
from tests.audit_core.models import mlp

SHIPPED = load_policy(Path(__file__).parents[2] / "policies" / "ci.yaml")
SIZES = {"members": 200, "non_members": 200, "population": 400, "test": 200}
pytestmark = pytest.mark.slow  # one real audit of 200/200 points with reference models: about 20 s


@pytest.fixture(scope="module")
def null_audit(tmp_path_factory):
    """An audit of an MLP trained on records that are in none of the audit's parts: its "members" are as
    new to it as its non-members."""
    folder = tmp_path_factory.mktemp("null")
    x, y = blobs(200, seed=40)
    torch.save(train_torch(mlp(N_FEATURES, N_CLASSES), x, y).state_dict(), folder / "weights.pth")
    parts, start = {}, 0
    for seed, (part, n) in enumerate(SIZES.items(), start=41):
        x, y = blobs(n, seed)
        frame = pd.DataFrame(x, columns=FEATURES).assign(label=y, id=[f"r{start + i}" for i in range(n)])
        frame.to_parquet(folder / f"{part}.parquet")
        parts[part], start = str(folder / f"{part}.parquet"), start + n
    config = parse_config(
        {
            "run_name": "null",
            "output_dir": str(folder / "out"),
            "data": {"kind": "table", "id": "id", **parts},
            "target": {
                "kind": "torch_state_dict",
                "weights": str(folder / "weights.pth"),
                "architecture": "tests.audit_core.models:mlp",
                "architecture_kwargs": {"n_features": N_FEATURES, "n_classes": N_CLASSES},
            },
            "recipe": RECIPE,
            "defenses": [{"name": "dynanoise"}, {"name": "temperature", "temperature": 10.0}],
            "attacks": ["loss", "confidence", "shadow", "lira_offline"],
            "knowledge": ["naive", "adaptive"],
            "reference_models": 4,
            "cache_dir": None,
            "policy": SHIPPED.model_dump(),
        },
        source="test config",
    )
    run = run_audit(config, write=True)
    return run, json.loads((run.run_dir / "manifest.json").read_text())


def test_a_null_split_of_a_real_target_passes_the_shipped_policy(null_audit):
    run, manifest = null_audit
    verdict = manifest["verdict"]
    assert manifest["chosen"] == run.result.chosen and run.result.chosen.startswith("dynanoise(")
    assert verdict["passed"], verdict["headline"]
    assert all(r["outcome"] != "fail" for r in verdict["rules"])
    # passed, with a warning for each rule the audit could not decide (the shipped `unresolved: warn`)
    undecided = any(r["outcome"] == "unresolved" for r in verdict["rules"])
    assert verdict["status"] == ("UNRESOLVED" if undecided else "PASSED")
    assert verdict["conditions"] == [run.result.chosen] and verdict["headline"].startswith(
        f"{verdict['status']} on dynanoise("
    )
    assert verdict["recommendation"].startswith(f"Deploy the chosen defense, {run.result.chosen}")


def test_a_defense_that_changed_no_answer_has_a_drop_of_0_bounded_by_its_test_points(null_audit):
    run, _ = null_audit
    metrics = pq.read_table(run.run_dir / "metrics.parquet").to_pandas()
    temperature = run.result.defended[1].condition
    # independently: both conditions answered every one of the 200 test points alike
    assert np.array_equal(run.result.baseline.test_correct, run.result.defended[1].test_correct)
    drop = metrics[(metrics.metric == "accuracy_drop") & (metrics.condition == temperature)]
    assert drop[["knowledge", "attack"]].isna().all(axis=None) and len(drop) == 1
    unseen = 1 - 0.0125 ** (1 / 200)  # none lost of 200: Clopper-Pearson's 98.75% upper bound
    assert drop.value.iloc[0] == 0 and drop[["ci_low", "ci_high"]].iloc[0].tolist() == pytest.approx(
        [-unseen, unseen]
    )
    # one value at alpha 0.05: none lost of 200 bounds the drop by 1 - 0.025 ** (1 / 200) = 0.0183
    policy = GatePolicy(condition="temperature", max_accuracy_drop=0.02)
    verdict = check_gate(policy, metrics)
    assert verdict.passed and verdict.rules[0].outcome == "pass" and verdict.conditions == [temperature]
    strict = check_gate(policy.model_copy(update={"max_accuracy_drop": 0.01}), metrics)
    assert strict.rules[0].outcome == "unresolved" and "too small" in strict.rules[0].reason


def test_the_policy_aims_at_the_chosen_a_named_or_every_defense(null_audit):
    run, manifest = null_audit
    metrics = pq.read_table(run.run_dir / "metrics.parquet").to_pandas()
    chosen = check_gate(SHIPPED, metrics, chosen=manifest["chosen"])
    named = check_gate(
        SHIPPED.model_copy(update={"condition": "temperature"}), metrics, chosen=manifest["chosen"]
    )
    every = check_gate(
        SHIPPED.model_copy(update={"condition": "any_defended"}), metrics, chosen=manifest["chosen"]
    )
    temperature = run.result.defended[1].condition
    assert chosen.conditions == [run.result.chosen] and named.conditions == [temperature]
    assert every.conditions == [run.result.chosen, temperature]
    attack_values = 3 * 4 * 2  # three attack rules x four attacks x two knowledges, per condition
    assert (chosen.family_size, every.family_size) == (attack_values + 1, 2 * (attack_values + 1))


def test_the_risk_sentence_of_a_model_that_leaks_nothing_claims_no_leak(null_audit):
    run, manifest = null_audit
    metrics = pq.read_table(run.run_dir / "metrics.parquet").to_pandas()
    risk = conclusion(metrics, manifest).risk
    assert risk.startswith("Undefended risk: low") or "But no attack is shown better than chance" in risk
    report = (run.run_dir / "report.html").read_text()
    assert risk.split(". ", 1)[1].split(";")[0] in report  # the same sentence in the report

"""Same config and seed, same numbers: fresh audit flows with the loop trainer (on one torch thread and on
two), the processes trainer and the batched trainer all write identical metrics.parquet and cached weights."""

import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

from audit_core.config import AuditConfig
from flows.audit import audit

TINY = {
    "run_name": "same",
    "recipe": {"epochs": 10, "hidden_sizes": [64]},
    "data": {"n_members": 60, "n_non_members": 60, "n_population": 160},
    "reference_models": 4,
    "attacks": ["loss", "lira_offline", "rmia"],
    "knowledge": ["naive", "adaptive"],
    "max_queries": 1,
}


def _fresh_audit(tmp_path, name: str, trainer: str, threads: int = 1):
    config = AuditConfig(
        output_dir=tmp_path / name / "out", cache_dir=tmp_path / name / "cache", trainer=trainer, **TINY
    )
    torch.set_num_threads(threads)
    try:
        state = audit(config, return_state=True)
    finally:
        torch.set_num_threads(1)
    assert state.is_completed(), state.message
    weights = {p.name: load_file(p) for p in (tmp_path / name / "cache" / "models").glob("*.safetensors")}
    return pd.read_parquet(state.result() / "metrics.parquet"), weights


def _identical(first: dict, second: dict) -> bool:
    return first.keys() == second.keys() and all(
        torch.equal(first[name][key], second[name][key]) for name in first for key in first[name]
    )


@pytest.mark.slow
def test_fresh_runs_and_trainers_give_identical_metrics_and_weights(prefect_api_url, tmp_path):
    loop_metrics, loop_weights = _fresh_audit(tmp_path, "loop", "loop")
    assert len(loop_weights) == 6  # the target, one shadow model and four reference models
    for name, trainer, threads in (
        ("again", "loop", 2),
        ("processes", "processes", 1),
        ("batched", "batched", 2),
    ):
        metrics, weights = _fresh_audit(tmp_path, name, trainer, threads)
        pd.testing.assert_frame_equal(metrics, loop_metrics, check_exact=True, obj=name)
        assert _identical(weights, loop_weights), name

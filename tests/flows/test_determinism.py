"""Same config and seed, same numbers: fresh audit flows with the loop trainer (on one torch thread and on
two) write identical metrics.parquet and cached weights, and so does the processes trainer; the batched
trainer's weights equal the loop's up to float32 rounding (README: where the BLAS sums in another order)."""

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
ROUNDING = 1e-6  # as in tests/audit_core/test_model_cache.py


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
    assert len(loop_weights) == 5  # one shadow model and four reference models
    for name, trainer, threads in (("again", "loop", 2), ("processes", "processes", 1)):
        metrics, weights = _fresh_audit(tmp_path, name, trainer, threads)
        pd.testing.assert_frame_equal(metrics, loop_metrics, check_exact=True, obj=name)
        assert _identical(weights, loop_weights), name
    _, batched_weights = _fresh_audit(tmp_path, "batched", "batched")
    assert batched_weights.keys() == loop_weights.keys()
    for name, tensors in batched_weights.items():
        for key, tensor in tensors.items():
            torch.testing.assert_close(tensor, loop_weights[name][key], rtol=0, atol=ROUNDING)

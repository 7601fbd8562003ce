"""Reference models trained on a real Dask cluster (two worker processes, one thread each) give the audit
the same numbers as training them in the flow's own process."""

from collections.abc import Iterator

import pandas as pd
import pytest
import skops.io as sio
import torch
from distributed import Client, LocalCluster
from safetensors.torch import load_file
from sklearn.ensemble import RandomForestClassifier

from audit_core.audit.inputs import load_audit_data
from audit_core.config import AuditConfig, DaskRunnerConfig
from flows.audit import audit
from flows.training import parallel_slots, task_runner

TINY = {
    "recipe": {"epochs": 10, "hidden_sizes": [32]},
    "data": {"n_members": 60, "n_non_members": 60, "n_population": 160},
    "reference_models": 4,
    "attacks": ["loss", "lira_online", "lira_offline", "rmia"],
    "knowledge": ["naive", "adaptive"],
    "max_queries": 1,
}


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """A running Dask cluster of two worker processes with one thread each; its scheduler's address."""
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        yield cluster.scheduler_address


def _executed_per_worker(address: str) -> dict[str, int]:
    with Client(address) as client:
        return client.run(lambda dask_worker: dask_worker.state.executed_count)


def _audit(tmp_path, name: str, **settings) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    config = AuditConfig(
        run_name=name,
        output_dir=tmp_path / "out",
        cache_dir=tmp_path / name,
        id_salt="one key, so both runs name records alike",
        **TINY,
        **settings,
    )
    state = audit(config, return_state=True)
    assert state.is_completed(), state.message
    run_dir = state.result()
    weights = {p.name: load_file(p) for p in (tmp_path / name / "models").glob("*.safetensors")}
    return pd.read_parquet(run_dir / "metrics.parquet"), pd.read_parquet(run_dir / "scores.parquet"), weights


@pytest.mark.slow  # worker processes import torch and Prefect: about half a minute on 2 cores
def test_an_audit_on_a_dask_cluster_equals_the_single_machine_run(
    prefect_api_url, scheduler, tmp_path, capsys
):
    before = _executed_per_worker(scheduler)
    dask_metrics, dask_scores, dask_weights = _audit(
        tmp_path, "dask", runner={"kind": "dask", "address": scheduler}
    )
    after = _executed_per_worker(scheduler)
    assert all(after[worker] > before[worker] for worker in before), "both workers train a group"
    assert "reference models  4/4 [==============================] 100%" in capsys.readouterr().err

    local_metrics, local_scores, local_weights = _audit(tmp_path, "threads")
    pd.testing.assert_frame_equal(dask_metrics, local_metrics, check_exact=True)
    pd.testing.assert_frame_equal(dask_scores, local_scores, check_exact=True)
    assert dask_weights.keys() == local_weights.keys() and len(dask_weights) == 6  # target, shadow, 4 refs
    for name, state in dask_weights.items():
        assert all(torch.equal(state[k], local_weights[name][k]) for k in state), name
    lira = dask_metrics[(dask_metrics.attack == "lira_online") & (dask_metrics.metric == "auc")]
    assert not lira.empty and lira.value.notna().all()


@pytest.mark.slow  # starts its own two worker processes
def test_a_local_dask_cluster_runs_one_task_per_worker_thread():
    with task_runner(DaskRunnerConfig(n_workers=2)) as runner:
        assert parallel_slots(runner) == 2
        assert set(runner.client.nthreads().values()) == {1}


@pytest.mark.slow  # worker processes import torch and Prefect: about half a minute on 2 cores
def test_clone_references_on_a_dask_cluster_equal_the_single_machine_run(
    prefect_api_url, scheduler, tmp_path
):
    data = load_audit_data(AuditConfig(**TINY))
    forest = RandomForestClassifier(n_estimators=20, random_state=0)
    sio.dump(forest.fit(data.members.features, data.members.labels), tmp_path / "forest.skops")
    clones = {
        "target": {"kind": "sklearn", "path": str(tmp_path / "forest.skops")},
        "references": {"kind": "clone"},
        "shadow": {"kind": "clone"},
    }
    dask_metrics, dask_scores, _ = _audit(
        tmp_path, "dask", runner={"kind": "dask", "address": scheduler}, **clones
    )
    local_metrics, local_scores, _ = _audit(tmp_path, "threads", **clones)
    pd.testing.assert_frame_equal(dask_metrics, local_metrics, check_exact=True)
    pd.testing.assert_frame_equal(dask_scores, local_scores, check_exact=True)
    cached = {
        tmp: sorted(p.name for p in (tmp_path / tmp / "models").glob("*.skops"))
        for tmp in ("dask", "threads")
    }
    assert cached["dask"] == cached["threads"] and len(cached["dask"]) == 1 + 4  # shadow + references

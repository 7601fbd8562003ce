"""Reference models trained as Prefect tasks on the task runner the config's ``runner:`` section names:
Prefect's thread pool in this process, or a Dask cluster (an existing scheduler, or a local cluster).

Each task trains one group of models from plain arrays and returns their weights as numpy arrays; the
flow's process loads them and writes them to its model cache, so workers need neither the cache folder nor
shared storage, only the same installed packages.
"""

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from prefect import get_client, get_run_logger
from prefect.futures import as_completed
from prefect.settings import PREFECT_API_URL, temporary_settings
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from audit_core.audit import models
from audit_core.config import AuditConfig, DaskRunnerConfig, RunnerConfig, ThreadsRunnerConfig
from audit_core.data import AuditData
from audit_core.targets import Target
from audit_core.training.references import GroupRunner, GroupsFor, TrainingGroup
from flows.progress import step_progress
from tasks.steps import train_model_group


def _threads(config: ThreadsRunnerConfig) -> TaskRunner:
    return ThreadPoolTaskRunner(max_workers=1)  # one group after another, in this process


def _dask(config: DaskRunnerConfig) -> TaskRunner:
    from prefect_dask import DaskTaskRunner  # imported here: Dask costs seconds that threads do not need

    if config.address is not None:
        return DaskTaskRunner(address=config.address)
    cluster = {"n_workers": config.n_workers, "threads_per_worker": config.threads_per_worker}
    # worker processes, as on a real cluster; the dashboard on a free port, so audits can run side by side
    return DaskTaskRunner(cluster_kwargs={**cluster, "processes": True, "dashboard_address": ":0"})


#: runner.kind -> the Prefect task runner it configures
TASK_RUNNERS: dict[str, Callable[..., TaskRunner]] = {"threads": _threads, "dask": _dask}


def task_runner(config: RunnerConfig) -> TaskRunner:
    """The (not yet started) Prefect task runner that ``config`` describes."""
    return TASK_RUNNERS[config.kind](config)


def parallel_slots(runner: TaskRunner) -> int:
    """How many tasks a started ``runner`` runs at once: its Dask workers' threads, else one."""
    if isinstance(runner, ThreadPoolTaskRunner):
        return 1
    return max(1, sum(runner.client.nthreads().values()))  # a DaskTaskRunner


def on_task_runner(config: RunnerConfig) -> GroupRunner:
    """A ``run_groups`` for :func:`audit_core.training.references.train_models` that trains each group as a
    Prefect task on the runner ``config`` describes, started only when a model is missing from the cache."""

    def run_groups(groups_for: GroupsFor) -> Iterator[tuple[TrainingGroup, list[Any]]]:
        # Workers report their task runs to the API this flow run uses, even a temporary one; without it each
        # worker process would start a temporary Prefect server of its own.
        api_url = str(get_client(sync_client=True).api_url)
        with task_runner(config) as runner, temporary_settings(updates={PREFECT_API_URL: api_url}):
            one_thread = config.kind == "dask"
            futures = {
                runner.submit(train_model_group, {"group": group, "one_thread": one_thread}): group
                for group in groups_for(parallel_slots(runner))
            }
            for future in as_completed(list(futures)):
                yield futures[future], future.result()

    return run_groups


def train_references(
    config: AuditConfig, data: AuditData, fingerprints: dict[str, str]
) -> tuple[list[Target], np.ndarray, dict[str, int]]:
    """Train (or reuse) the reference models on complementary halves of the audit points, with a progress
    bar in the terminal and a Prefect progress artifact: on Dask one task per group, with the threads
    runner in this process (clones side by side in joblib's threads); return them with their IN/OUT masks and
    the model cache's counts."""
    progress = None
    if config.reference_models:
        progress = step_progress(
            "reference-models", config.run_name, "Reference models trained or loaded from the cache"
        )
    run_groups = on_task_runner(config.runner) if config.runner.kind == "dask" else None
    references, in_mask, counts = models.train_references(
        config, data, fingerprints, on_model_done=progress, run_groups=run_groups
    )
    get_run_logger().info("Reference models: trained %d, reused %d", counts["trained"], counts["reused"])
    return references, in_mask, counts

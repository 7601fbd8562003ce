"""The audit's steps as Prefect tasks: each plain step of :class:`audit_core.audit.run.Steps` wrapped with a
task name, its retries and no Prefect caching. No logic lives here."""

from dataclasses import replace
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from audit_core.audit.run import Steps
from audit_core.core.threads import one_thread as single_thread
from audit_core.training.references import TrainingGroup, train_group
from tasks.retries import FILE_RETRIES

# In-memory arrays and models pass between these tasks, so Prefect does not cache them; work is reused across
# runs by the content-hashed model cache (audit_core/training/cache.py) instead.
_IN_MEMORY = {"cache_policy": NO_CACHE}
_READS = {**FILE_RETRIES, "retry_delay_seconds": [2, 10]}
_WRITES = {**FILE_RETRIES, "retry_delay_seconds": [1, 5]}

#: Steps field -> its task's name and options (retries only on steps that read or write files)
TASKS: dict[str, dict[str, Any]] = {
    "load_data": {"name": "load-audit-data", **_READS},
    "build_target": {"name": "build-target"},
    "query_target": {"name": "query-target"},
    "shadow_outputs": {"name": "shadow-outputs"},
    "query_references": {"name": "query-references"},
    "defender_data": {"name": "query-defender-data"},
    "split": {"name": "split-for-tuning"},
    "tune": {"name": "tune-dynanoise"},
    "conditions": {"name": "build-conditions"},
    "evaluate": {"name": "evaluate-conditions"},
    "assemble": {"name": "assemble-result"},
    "write": {"name": "write-artifacts", **_WRITES},
    "write_tuning": {"name": "write-tuning-artifacts", **_WRITES},
}


def as_tasks(steps: Steps, **replacements: Any) -> Steps:
    """``steps`` with each step of :data:`TASKS` run as a Prefect task, and ``replacements`` (steps that are
    already flow-aware, such as reference training on a task runner) put in as they are."""
    tasks = {field: task(getattr(steps, field), **options, **_IN_MEMORY) for field, options in TASKS.items()}
    return replace(steps, **{**tasks, **replacements})


@task(name="train-model-group", task_run_name="train-{group.label}", **_IN_MEMORY)
def train_model_group(group: TrainingGroup, one_thread: bool = False) -> list[Any]:
    """Train one group of models wherever the task runner puts it; return them as their kind trains them
    (torch weights as numpy arrays, fitted scikit-learn estimators).
    ``one_thread``: a worker process of its own runs one torch and one BLAS thread per task, as the cluster's
    slots assume."""
    if not one_thread:
        return train_group(group)
    with single_thread():
        return train_group(group)

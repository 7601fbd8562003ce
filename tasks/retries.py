"""When a failed task run is tried again: never on the user's bad input, which a retry cannot fix."""

from typing import Any

from audit_core.core.errors import AuditInputError


def retry_unless_bad_input(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect's ``retry_condition_fn``: retry a failed run unless it raised an :class:`AuditInputError`."""
    try:
        state.result()
    except AuditInputError:
        return False
    except Exception:  # any other failure (a flaky disk, a network share) may pass on a retry
        return True
    return True


#: The retry options of a task that reads or writes files.
FILE_RETRIES = {"retries": 2, "retry_condition_fn": retry_unless_bad_input}

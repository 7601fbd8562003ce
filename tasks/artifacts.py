"""Prefect artifacts the flows publish: stable keys and a progress bar that updates in place."""

import re
from collections.abc import Callable

from prefect.artifacts import create_progress_artifact, update_progress_artifact


def artifact_key(kind: str, run_name: str) -> str:
    """A Prefect artifact key (lowercase letters, digits, dashes) for one kind of artifact of a run."""
    return f"{kind}-" + re.sub(r"[^a-z0-9-]+", "-", run_name.lower()).strip("-")


def progress_reporter(key: str, description: str) -> Callable[[int, int], None]:
    """Create a keyed progress artifact at 0% and return a ``(done, total)`` callback that advances it."""
    artifact_id = create_progress_artifact(progress=0.0, key=key, description=description)

    def report(done: int, total: int) -> None:
        update_progress_artifact(artifact_id, progress=100.0 * done / total)

    return report

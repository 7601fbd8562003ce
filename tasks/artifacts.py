"""Prefect artifacts the flows publish: stable keys and a progress bar that updates in place."""

import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)

from audit_core.results.summary import summary_table
from audit_core.stats.names import Metric


def artifact_key(kind: str, run_name: str) -> str:
    """A Prefect artifact key (lowercase letters, digits, dashes) for one kind of artifact of a run."""
    return f"{kind}-" + re.sub(r"[^a-z0-9-]+", "-", run_name.lower()).strip("-")


def progress_reporter(key: str, description: str) -> Callable[[int, int], None]:
    """Create a keyed progress artifact at 0% and return a ``(done, total)`` callback that advances it."""
    artifact_id = create_progress_artifact(progress=0.0, key=key, description=description)

    def report(done: int, total: int) -> None:
        update_progress_artifact(artifact_id, progress=100.0 * done / total)

    return report


def publish_run_artifacts(run_name: str, run_dir: Path, cache_line: str) -> None:
    """The run's keyed artifacts (versioned across scheduled runs): the markdown summary, the headline
    metrics as a table, and a link to the HTML report."""
    metrics = pd.read_parquet(run_dir / "metrics.parquet")
    create_markdown_artifact(
        key=artifact_key("audit", run_name),
        markdown=f"# Privacy audit `{run_name}`\n\nRun folder: `{run_dir.resolve()}`\n\n{cache_line}\n\n"
        f"{summary_table(metrics)}\n",
        description="Before/after membership-inference summary",
    )
    headline = metrics[
        (metrics.slice == "all") & metrics.metric.isin([Metric.AUC, Metric.TPR_AT_FPR_0_01, Metric.MIDPUT])
    ]
    rows = headline[["condition", "knowledge", "attack", "metric", "value", "ci_low", "ci_high"]]
    create_table_artifact(
        key=artifact_key("audit-metrics", run_name),
        table=rows.astype(object).where(rows.notna(), None).to_dict(orient="records"),
        description="AUC, TPR at 1% FPR and MIDPUT per condition, attacker knowledge and attack",
    )
    create_link_artifact(
        key=artifact_key("audit-report", run_name),
        link=(run_dir / "report.html").resolve().as_uri(),
        link_text=f"HTML report of {run_name}",
        description="The run's HTML report (PDF beside it)",
    )

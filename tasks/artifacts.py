"""Prefect artifacts the flows publish: stable keys and a progress bar that updates in place."""

import io
import json
import re
from collections.abc import Callable

import pandas as pd
from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)

from audit_core.core.locations import Location
from audit_core.results.runs import MANIFEST, METRICS, read_run_file, report_link
from audit_core.results.summary import run_markdown
from audit_core.stats.names import Metric


def artifact_key(kind: str, run_name: str) -> str:
    """A Prefect artifact key (lowercase letters, digits, dashes) for one kind of artifact of a run."""
    return f"{kind}-" + re.sub(r"[^a-z0-9-]+", "-", run_name.lower()).strip("-")


#: A progress artifact moves each twentieth of the way: one request to the server per step, not per item
#: (the tuning's trials came one every few hundred milliseconds, each waiting on its request).
PROGRESS_STEPS = 20


class StepsPassed:
    """Whether another ``1 / steps`` of the way is done since it last said so: progress shown per step, not
    per item. ``shown`` is the step already shown (-1: none, so 0 of ``total`` passes)."""

    def __init__(self, steps: int, shown: int = -1) -> None:
        self.steps, self.shown = steps, shown

    def __call__(self, done: int, total: int) -> bool:
        step = self.steps * done // total
        passed, self.shown = step != self.shown, step
        return passed


def progress_reporter(key: str, description: str) -> Callable[[int, int], None]:
    """Create a keyed progress artifact at 0% and return a ``(done, total)`` callback that advances it
    whenever another ``1 / PROGRESS_STEPS`` of the way is done (and at the end)."""
    artifact_id = create_progress_artifact(progress=0.0, key=key, description=description)
    passed = StepsPassed(PROGRESS_STEPS, shown=0)

    def report(done: int, total: int) -> None:
        if passed(done, total):
            update_progress_artifact(artifact_id, progress=100.0 * done / total)

    return report


def publish_run_artifacts(run_name: str, run_dir: Location, cache_line: str) -> None:
    """The run's keyed artifacts (versioned across scheduled runs): the markdown summary (verdict, where the
    report is, the headline table), the headline metrics as a table, and a link to the HTML report."""
    metrics = pd.read_parquet(io.BytesIO(read_run_file(run_dir, METRICS)))
    manifest = json.loads(read_run_file(run_dir, MANIFEST))
    link, where = report_link(run_dir)
    create_markdown_artifact(
        key=artifact_key("audit", run_name),
        markdown=run_markdown(run_name, manifest, metrics, where, cache_line),
        description="Verdict and before/after membership-inference summary",
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
        link=link,
        link_text=f"HTML report of {run_name}",
        description=where,
    )

"""The gate's steps as Prefect tasks over audit_core.gate.check; reading and writing files retries."""

from pathlib import Path

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from audit_core.core.files import write_text_atomic
from audit_core.gate import check as gate
from audit_core.gate import inputs as gate_inputs
from audit_core.gate.reports import junit_xml, markdown_summary
from tasks.retries import FILE_RETRIES

_IO = {**FILE_RETRIES, "retry_delay_seconds": [1, 5], "cache_policy": NO_CACHE}


@task(name="read-metrics", **_IO)
def read_metrics(path: str) -> pd.DataFrame:
    """Read a dynaudit metrics.parquet table (a path or a URL)."""
    return gate_inputs.read_metrics(path)


@task(name="read-scores", **_IO)
def scores_beside(metrics_path: str) -> pd.DataFrame | None:
    """Read the scores.parquet beside a run's metrics.parquet (None if it has none)."""
    return gate_inputs.scores_beside(metrics_path)


@task(name="check-gate", cache_policy=NO_CACHE)
def check_gate(
    policy: gate.GatePolicy,
    metrics: pd.DataFrame,
    previous: pd.DataFrame | None,
    chosen: str | None,
    digests: tuple[str | None, str | None],
    previous_chosen: str | None,
    sanity: list[str],
    class_names: list[str | int] | None = None,
    scores: tuple[pd.DataFrame | None, pd.DataFrame | None] = (None, None),
) -> gate.GateVerdict:
    """Check every limit of the policy on the conditions it names, and compare with the previous run's
    metrics if given (its chosen defense matched with this run's); a class limit's values are named by
    ``class_names``; the TPR's bounds are read from each run's ``scores``."""
    return gate.check_gate(
        policy,
        metrics,
        previous,
        chosen=chosen,
        digests=digests,
        previous_chosen=previous_chosen,
        sanity=sanity,
        class_names=class_names,
        scores=scores,
    )


@task(name="write-gate-reports", **_IO)
def write_gate_reports(
    verdict: gate.GateVerdict, run_name: str, junit_path: Path | None, summary_path: Path | None
) -> None:
    """Write the JUnit XML and the markdown summary where asked."""
    if junit_path is not None:
        write_text_atomic(junit_path, junit_xml(verdict, run_name))
    if summary_path is not None:
        write_text_atomic(summary_path, markdown_summary(verdict, run_name))

"""The run folder and the tuning folder, each kept as a new run committed whole; the config policy's verdict
on the way."""

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from audit_core.audit.models import target_output
from audit_core.config import AuditConfig
from audit_core.core.forked import forked_map
from audit_core.core.locations import Location, join
from audit_core.defenses import Defense
from audit_core.defenses.serving import PARAMS_FILE, save_params
from audit_core.gate.check import GateVerdict, check_gate
from audit_core.gate.inputs import previous_manifest, read_metrics, scores_beside
from audit_core.report.context import build_context
from audit_core.report.plots import pareto_front
from audit_core.report.render import write_html, write_pdf
from audit_core.results.artifacts import write_manifest, write_parquet
from audit_core.results.runs import FRONT, METRICS, SCORES, TRIALS, new_run_id, prune_runs, staged_run
from audit_core.results.summary import run_headline
from audit_core.results.tables import AuditResult
from audit_core.tuning.search import TuningResult


def write_tuning_files(
    folder: Path,
    config: AuditConfig,
    tuning: TuningResult,
    provenance: dict[str, Any],
    front_svg: str | None = None,
) -> None:
    """The chosen parameters (``dynanoise-params.json``, with what the target returns, which the shipped
    defense needs), the trial table, the front and its figure (``front_svg`` when already drawn)."""
    shipping = {"run_name": provenance["run_name"], "target_output": target_output(config)}
    save_params(folder / PARAMS_FILE, tuning.chosen, {**shipping, **tuning.summary()})
    write_parquet(tuning.trials, folder / TRIALS, "tuning")
    write_parquet(tuning.front, folder / FRONT, "front")
    figure = pareto_front(tuning) if front_svg is None else front_svg
    (folder / "front.svg").write_text(figure, encoding="utf-8")


def policy_verdict(
    config: AuditConfig,
    metrics: pd.DataFrame,
    scores: pd.DataFrame,
    result: AuditResult,
    previous_metrics: Location | None = None,
) -> GateVerdict | None:
    """The verdict of the config's policy on ``metrics`` and ``scores`` (``result``'s tables) with
    ``result``'s chosen defense and sanity warnings (and against a previous run's metrics.parquet when
    given); None without a policy."""
    if config.policy is None:
        return None
    previous = None if previous_metrics is None else read_metrics(previous_metrics)
    before = {} if previous_metrics is None else previous_manifest(previous_metrics)
    return check_gate(
        config.policy,
        metrics,
        previous,
        chosen=result.chosen,
        digests=(config.digest, before.get("config_digest")),
        previous_chosen=before.get("chosen"),
        sanity=result.provenance["warnings"],
        class_names=getattr(config.data, "classes", None),
        scores=(
            scores,
            None
            if previous_metrics is None or not config.policy.reads_scores
            else scores_beside(previous_metrics),
        ),
    )


def _keep_run(config: AuditConfig, run_name: str, write: Callable[[Path], None]) -> Location:
    """Write a new run of ``run_name`` (``write`` fills a local folder), commit it, prune to ``keep``, and
    return its folder."""
    run_id = new_run_id(config.digest)
    with staged_run(config.output_dir, run_name, run_id) as folder:
        write(folder)
    root = join(config.output_dir, run_name)
    if config.keep is not None:
        prune_runs(root, config.keep)
    return join(root, run_id)


def write_run_folder(
    config: AuditConfig,
    result: AuditResult,
    defenses: list[Defense],
    tuning: TuningResult | None = None,
    previous_metrics: Location | None = None,
) -> Location:
    """Write every artifact of the run to a new run folder ``output_dir/run_name/<run id>`` and return it;
    with a policy in the config, its verdict goes on the report's summary page and into the manifest."""
    metrics, scores = result.metrics_table(), result.scores_table()
    verdict = policy_verdict(config, metrics, scores, result, previous_metrics)

    def write(folder: Path) -> None:
        front = None if tuning is None else pareto_front(tuning)  # drawn once: front.svg and the report
        context = build_context(result, defenses, tuning, verdict, front_svg=front)
        # the PDF (WeasyPrint: most of the writing time) in a forked worker while this process writes the rest
        with forked_map(partial(write_pdf, folder=folder), [context], busy_here=True) as pdf_written:
            write_html(context, folder)
            write_parquet(metrics, folder / METRICS, "metrics")
            write_parquet(scores, folder / SCORES, "scores")
            write_parquet(result.averaging_table(), folder / "averaging.parquet", "averaging")
            write_parquet(result.roc_table(), folder / "roc.parquet", "roc")
            if tuning is not None:
                write_tuning_files(folder, config, tuning, result.provenance, front)
            pdf_written()
        verdict_record = {} if verdict is None else {"verdict": verdict.summary()}
        conditions = {"chosen": result.chosen, "tuned": result.tuned}
        audit = {
            "chosen": result.chosen,
            "conditions": conditions,
            "config_digest": config.digest,
            "headline": run_headline(metrics, result.chosen),
        }
        write_manifest(folder, {**result.provenance, **audit, **verdict_record})

    return _keep_run(config, config.run_name, write)


def tuning_run_name(config: AuditConfig) -> str:
    """The run name ``dynaudit tune`` writes under: ``<run_name>-tune``."""
    return f"{config.run_name}-tune"


def write_tuning_folder(config: AuditConfig, tuning: TuningResult, provenance: dict[str, Any]) -> Location:
    """Write a tuning run (parameters, trials, front, manifest) to ``output_dir/<run_name>-tune/<run id>``."""

    def write(folder: Path) -> None:
        write_tuning_files(folder, config, tuning, provenance)
        headline = {"chosen_defense": tuning.chosen.label}  # a tuning run attacks only on its front
        write_manifest(folder, {**provenance, "tuning": tuning.summary(), "headline": headline})

    return _keep_run(config, tuning_run_name(config), write)

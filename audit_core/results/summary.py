"""A compact before/after summary of an audit, for the terminal and the Prefect UI (markdown)."""

from typing import Any

import pandas as pd

from audit_core.audit.analysis import worst_case_row
from audit_core.stats.names import Metric
from audit_core.tuning.search import SPLITS, comparison, comparison_metrics


def _headline_rows(metrics: pd.DataFrame) -> list[str]:
    overall = metrics[metrics.slice == "all"]
    accuracy = overall[overall.metric == Metric.TEST_ACCURACY].set_index("condition").value
    auc = overall[overall.metric == Metric.AUC]
    tpr = (
        overall[overall.metric == Metric.TPR_AT_FPR_0_01]
        .set_index(["condition", "knowledge", "attack"])
        .value
    )
    midput = overall[overall.metric == Metric.MIDPUT].set_index(["condition", "knowledge"]).value
    rows = []
    shown_undefended = False
    for (condition, knowledge), group in auc.groupby(["condition", "knowledge"], sort=False):
        if condition == "undefended":
            if shown_undefended:  # every knowledge is identical without a defense
                continue
            shown_undefended = True
        worst = worst_case_row(group)
        cells = [
            condition,
            "—" if condition == "undefended" else knowledge,
            f"{accuracy[condition]:.4f}",
            str(worst.attack),
            f"{worst.value:.3f} [{worst.ci_low:.3f}, {worst.ci_high:.3f}]",
            f"{tpr[(condition, knowledge, worst.attack)]:.3f}",
            f"{midput[(condition, knowledge)]:+.4f}" if (condition, knowledge) in midput.index else "—",
        ]
        rows.append("| " + " | ".join(cells) + " |")
    return rows


def headline_table(metrics: pd.DataFrame) -> str:
    """Markdown: per condition and attacker knowledge, test accuracy, the strongest attack (highest AUC) with
    its AUC interval and TPR at 1% FPR, and MIDPUT."""
    header = ["condition", "attacker", "accuracy", "strongest attack", "AUC [95% CI]", "TPR@1%FPR", "MIDPUT"]
    return "\n".join(["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *_headline_rows(metrics)])


def summary_table(metrics: pd.DataFrame) -> str:
    """Markdown: the :func:`headline_table`, then every attack's AUC per condition and knowledge."""
    lines = [headline_table(metrics)]
    auc = metrics[(metrics.metric == Metric.AUC) & (metrics.slice == "all")]
    grid = auc.pivot_table(index="attack", columns=["condition", "knowledge"], values="value", sort=False)
    columns = [c for c in grid.columns if c[0] != "undefended" or c[1] == grid.columns[0][1]]
    names = ["undefended" if c[0] == "undefended" else f"{c[0].split('(')[0]} {c[1]}" for c in columns]
    lines += ["", "| attack AUC | " + " | ".join(names) + " |", "|" + "---|" * (len(names) + 1)]
    for attack, row in grid[columns].iterrows():
        lines.append(f"| {attack} | " + " | ".join(f"{v:.3f}" for v in row) + " |")
    return "\n".join(lines)


def run_markdown(
    run_name: str, manifest: dict[str, Any], metrics: pd.DataFrame, report_where: str, cache_line: str
) -> str:
    """The run's summary for the Prefect UI: the policy's verdict when there is one, where the full report
    is, the model cache's counts and the headline table."""
    verdict = manifest.get("verdict")
    lines = [f"# Privacy audit `{run_name}`", ""]
    lines.append("No policy: no verdict." if verdict is None else f"**Verdict: {verdict['headline']}**")
    lines += ["", report_where, "", cache_line, "", headline_table(metrics), ""]
    return "\n".join(lines)


def run_headline(metrics: pd.DataFrame, chosen: str | None) -> dict[str, object]:
    """What a list of runs shows of one: the chosen defense and the strongest attack on it (the undefended
    model's without one), over every attacker knowledge, with its AUC."""
    condition = chosen or "undefended"
    rows = metrics[
        (metrics.metric == Metric.AUC) & (metrics.slice == "all") & (metrics.condition == condition)
    ]
    worst = worst_case_row(rows)
    return {
        "chosen_defense": chosen,
        "strongest_attack": None if worst is None else str(worst.attack),
        "knowledge": None if worst is None else str(worst.knowledge),
        "auc": None if worst is None else float(worst.value),
    }


def model_cache_line(model_cache: dict[str, dict[str, int]]) -> str:
    """How many shadow/reference models were trained and reused, from ``{role: {trained, reused}}``."""
    trained = sum(c["trained"] for c in model_cache.values())
    reused = sum(c["reused"] for c in model_cache.values())
    return f"Shadow and reference models: trained {trained}, reused {reused} from the cache."


def tuning_table(front: pd.DataFrame, objective: str) -> str:
    """A markdown table from a ``front.parquet`` frame: each defense's chosen setting with its accuracy drop,
    the objective and the objective's attack metric, as "tuning split / evaluation split"."""
    metrics = comparison_metrics(objective)
    header = ["defense", "chosen setting", *(f"{m} (tuning / evaluation)" for m in metrics)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in comparison(front, objective).to_dict("records"):
        cells = [" / ".join(f"{row[f'{m}/{s}']:+.4f}" for s in SPLITS) for m in metrics]
        lines.append("| " + " | ".join([row["family"], row["condition"], *cells]) + " |")
    return "\n".join(lines)

"""A compact before/after table of an audit, for the terminal and the Prefect UI (markdown)."""

import pandas as pd


def summary_table(metrics: pd.DataFrame) -> str:
    """A markdown table: per condition and attacker knowledge, test accuracy, each attack's AUC and success
    rate (balanced accuracy), and MIDPUT, read from a ``metrics.parquet`` frame."""
    accuracy = metrics[metrics.metric == "test_accuracy"].set_index("condition").value
    attacks = list(dict.fromkeys(metrics.loc[metrics.metric == "auc", "attack"]))
    header = ["condition", "attacker", "accuracy", *(f"{a} AUC / ASR" for a in attacks), "MIDPUT"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    per_attack = metrics[metrics.attack.notna() & metrics.knowledge.notna()]
    for (condition, knowledge), group in per_attack.groupby(["condition", "knowledge"], sort=False):
        if condition == "undefended" and knowledge != "naive":
            continue
        values = group.set_index(["attack", "metric"]).value
        cells = [f"{values[(a, 'auc')]:.3f} / {values[(a, 'balanced_accuracy')]:.3f}" for a in attacks]
        midput = metrics[
            (metrics.condition == condition) & (metrics.knowledge == knowledge) & (metrics.metric == "midput")
        ].value
        lines.append(
            "| "
            + " | ".join(
                [
                    condition,
                    "—" if condition == "undefended" else knowledge,
                    f"{accuracy[condition]:.4f}",
                    *cells,
                    f"{midput.iloc[0]:+.4f}" if len(midput) else "—",
                ]
            )
            + " |"
        )
    return "\n".join(lines)

"""A compact before/after summary of an audit, for the terminal and the Prefect UI (markdown)."""

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from audit_core.audit.analysis import CLASS_SLICE, slice_class, with_member_counts, worst_case_row
from audit_core.core.knowledge import Knowledge
from audit_core.defenses import DynaNoise, Undefended
from audit_core.defenses.names import condition_name
from audit_core.results.risk import (
    UNSHOWN_MARK,
    MeasuredAuc,
    class_label,
    defense_effect,
    most_exposed_class,
    risk_statement,
    risk_tier,
    unshown,
)
from audit_core.stats.metrics import crossfit_resolved, resolution_mark
from audit_core.stats.midput import within_budget
from audit_core.stats.names import HEADLINE_FPR, Metric
from audit_core.tuning.search import OBJECTIVES, SPLITS, choice_notes, comparison, comparison_metrics


def _tpr_text(tpr: pd.Series, condition: str, worst: Any) -> str:
    """The TPR at 1% FPR of the AUC row ``worst`` (with its member counts) of ``condition``, from ``tpr``
    (indexed by condition, knowledge and attack), marked where the non-members cannot resolve it."""
    resolved = crossfit_resolved(int(worst.non_members), HEADLINE_FPR)
    return f"{tpr[(condition, worst.knowledge, worst.attack)]:.3f}" + resolution_mark(resolved)


def _headline_rows(metrics: pd.DataFrame, tuned: str | None) -> list[str]:
    overall = metrics[metrics.slice == "all"]
    accuracy = overall[overall.metric == Metric.TEST_ACCURACY].set_index("condition").value
    auc = with_member_counts(overall[overall.metric == Metric.AUC], overall)
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
            condition_name(condition, tuned),
            "—" if condition == "undefended" else knowledge,
            f"{accuracy[condition]:.4f}",
            str(worst.attack),
            f"{worst.value:.3f} [{worst.ci_low:.3f}, {worst.ci_high:.3f}]",
            _tpr_text(tpr, condition, worst),
            f"{midput[(condition, knowledge)]:+.4f}" if (condition, knowledge) in midput.index else "—",
        ]
        rows.append("| " + " | ".join(cells) + " |")
    return rows


def headline_table(metrics: pd.DataFrame, tuned: str | None = None) -> str:
    """Markdown: per condition and attacker knowledge, test accuracy, the strongest attack (highest AUC) with
    its AUC interval and TPR at 1% FPR, and MIDPUT. ``tuned``: the tuned DynaNoise's condition (see
    :func:`condition_name`)."""
    header = ["condition", "attacker", "accuracy", "strongest attack", "AUC [95% CI]", "TPR@1%FPR", "MIDPUT"]
    rows = _headline_rows(metrics, tuned)
    return "\n".join(["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *rows])


def summary_table(metrics: pd.DataFrame, tuned: str | None = None) -> str:
    """Markdown: the :func:`headline_table`, then every attack's AUC per condition and knowledge."""
    lines = [headline_table(metrics, tuned)]
    auc = metrics[(metrics.metric == Metric.AUC) & (metrics.slice == "all")]
    grid = auc.pivot_table(index="attack", columns=["condition", "knowledge"], values="value", sort=False)
    columns = [c for c in grid.columns if c[0] != "undefended" or c[1] == grid.columns[0][1]]
    names = [
        "undefended" if c[0] == "undefended" else f"{condition_name(c[0], tuned)} {c[1]}" for c in columns
    ]
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
    tuned = manifest.get("conditions", {}).get("tuned")
    lines += ["", report_where, "", cache_line, "", headline_table(metrics, tuned), ""]
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


#: The chosen setting shown for a defense that had none within the accuracy budget.
NO_SETTING = "none within the budget"


def signed(value: float) -> str:
    """``value`` with its sign and 4 decimals, or a dash where it is missing (NaN)."""
    return "—" if np.isnan(value) else f"{value:+.4f}"


def setting(condition: str | None) -> str:
    """A :func:`~audit_core.tuning.search.comparison` row's chosen condition, or :data:`NO_SETTING`."""
    return NO_SETTING if pd.isna(condition) else condition


def tuning_rows(front: pd.DataFrame, objective: str) -> tuple[list[str], list[list[str]]]:
    """The header and rows of each defense's chosen setting in a ``front.parquet`` frame: its accuracy drop,
    the objective and the objective's attack metric, each as "tuning split / evaluation split"."""
    metrics = comparison_metrics(objective)
    header = ["defense", "chosen setting", *(f"{m} (tuning / evaluation)" for m in metrics)]
    rows = [
        [
            row["family"],
            setting(row["condition"]),
            *(" / ".join(signed(row[f"{m}/{s}"]) for s in SPLITS) for m in metrics),
        ]
        for row in comparison(front, objective).to_dict("records")
    ]
    return header, rows


def tuning_table(front: pd.DataFrame, objective: str) -> str:
    """:func:`tuning_rows` as a markdown table."""
    header, rows = tuning_rows(front, objective)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def tuning_conclusion(front: pd.DataFrame, provenance: dict[str, Any]) -> str:
    """What a tuning chose, and what the choice costs and gains on the evaluation split, from its
    ``front.parquet`` frame and the ``provenance`` of its parameters file."""
    objective, budget = provenance["objective"], provenance["budget"]
    chosen = front[front.chosen & (front.split == "evaluation")].set_index("family")
    dynanoise, undefended = chosen.loc[DynaNoise.name], chosen.loc[Undefended.name]
    drop = float(dynanoise[Metric.ACCURACY_DROP])
    within = "within" if within_budget(drop, budget) else "over"
    best = "highest" if OBJECTIVES[objective].direction == "maximize" else "lowest"
    sentences = [
        f"Chosen DynaNoise: {dynanoise.condition}, the {best} {objective} within the budget among "
        f"{provenance['n_trials']} trials against the {provenance['knowledge']} attacker on the tuning "
        "split.",
        f"On the evaluation split: accuracy drop {drop:+.4f} ({within} the budget of {budget:g}), "
        f"{objective} {dynanoise[objective]:+.4f} (undefended {undefended[objective]:+.4f}).",
        choice_notes(provenance["params"], provenance.get("ranges")),  # older parameters files lack ranges
    ]
    return " ".join(s for s in sentences if s)


#: Columns of :func:`strongest_per_condition`, as the terminal heads them.
CONDITION_COLUMNS = {
    "name": "condition",
    "accuracy": "test accuracy",
    "attack": "strongest attack",
    "knowledge": "attacker",
    "auc": "AUC [95% CI]",
    "tpr": "TPR@1%FPR",
    "tier": "risk",
}


def _measured(rows: pd.DataFrame) -> list[MeasuredAuc]:
    return [MeasuredAuc(r.value, int(r.members), int(r.non_members)) for r in rows.itertuples()]


def measured_aucs(aucs: pd.DataFrame, metrics: pd.DataFrame) -> list[MeasuredAuc]:
    """The AUC rows ``aucs`` of a metrics frame with their audit points, read from ``metrics``."""
    return _measured(with_member_counts(aucs, metrics))


def strongest_per_condition(metrics: pd.DataFrame, tuned: str | None = None) -> list[dict[str, str]]:
    """One row per condition of a ``metrics.parquet`` frame: its name, test accuracy, and the strongest attack
    over every attacker knowledge (highest AUC, first maximal) with that knowledge, its AUC interval, TPR at
    1% FPR and risk tier; keys :data:`CONDITION_COLUMNS`. ``tuned``: the tuned DynaNoise's condition."""
    overall = metrics[metrics.slice == "all"]
    accuracy = overall[overall.metric == Metric.TEST_ACCURACY].set_index("condition").value
    tpr = (
        overall[overall.metric == Metric.TPR_AT_FPR_0_01]
        .set_index(["condition", "knowledge", "attack"])
        .value
    )
    rows = []
    aucs = with_member_counts(overall[overall.metric == Metric.AUC], overall)  # the counts read once
    for condition, group in aucs.groupby("condition", sort=False):
        worst = worst_case_row(group)
        mark = UNSHOWN_MARK if unshown(_measured(group)) else ""
        rows.append(
            {
                "name": condition_name(str(condition), tuned),
                "accuracy": f"{accuracy[condition]:.4f}",
                "attack": str(worst.attack),
                "knowledge": "—" if condition == "undefended" else str(worst.knowledge),
                "auc": f"{worst.value:.3f} [{worst.ci_low:.3f}, {worst.ci_high:.3f}]",
                "tpr": _tpr_text(tpr, condition, worst),
                "tier": risk_tier(worst.value)[0] + mark,
            }
        )
    return rows


@dataclass(frozen=True)
class Conclusion:
    """What an audit concluded, in sentences: the policy's verdict (None without a policy), the undefended
    risk, the chosen defense (None without a defense), the model cache's counts, the attacks that could
    not run (None when every attack ran) and the class shown most exposed (None when none is shown above
    the whole audit, :func:`~audit_core.results.risk.most_exposed_class`)."""

    verdict: str | None
    risk: str
    chosen: str | None
    models: str
    skipped: str | None = None
    exposed_class: str | None = None


def conclusion(metrics: pd.DataFrame, manifest: dict[str, Any]) -> Conclusion:
    """The :class:`Conclusion` of a run folder's ``metrics.parquet`` frame and ``manifest.json``."""
    every = metrics[metrics.slice == "all"]
    overall = every[every.metric == Metric.AUC]
    accuracy = every[every.metric == Metric.TEST_ACCURACY].set_index("condition").value
    baseline = overall[overall.condition == "undefended"]
    undefended = worst_case_row(baseline)
    tier, meaning = risk_statement(measured_aucs(baseline, every))
    risk = (
        f"Undefended risk: {tier}, strongest attack {undefended.attack} with AUC {undefended.value:.3f} "
        f"[{undefended.ci_low:.3f}, {undefended.ci_high:.3f}]. {meaning}"
    )
    conditions = manifest.get("conditions", {})
    chosen_label, tuned = conditions.get("chosen"), conditions.get("tuned")
    chosen = None
    if chosen_label is not None:
        adaptive = overall[(overall.condition == chosen_label) & (overall.knowledge != Knowledge.NAIVE)]
        strongest = worst_case_row(adaptive)
        attack = (
            "no adaptive attack ran"
            if strongest is None
            else f"strongest adaptive attack {strongest.attack} ({strongest.knowledge}) with AUC "
            f"{strongest.value:.3f}"
        )
        effect = None if strongest is None else defense_effect(strongest.value, undefended.value)
        if effect is not None:
            attack += f", {effect}"
        cost = accuracy["undefended"] - accuracy[chosen_label]
        budget = (manifest.get("config", {}).get("tune") or {}).get("budget")
        beyond = ""
        # over the budget: the tuned one met it on the tuning split; else no tuned setting kept it
        if budget is not None and not within_budget(cost, budget):
            met = ", which it met on the tuning split" if chosen_label == tuned else ""
            beyond = f" (over tune.budget = {budget:g}{met})"
        chosen = (
            f"Chosen defense: {condition_name(chosen_label, tuned)}, accuracy cost {cost:+.4f}{beyond}; "
            f"{attack}."
        )
    verdict = manifest.get("verdict")
    return Conclusion(
        verdict=None if verdict is None else f"Policy verdict: {verdict['headline']}",
        risk=risk,
        chosen=chosen,
        models=model_cache_line(manifest["model_cache"]),
        skipped=skipped_sentence(metrics),
        exposed_class=_exposed_class(metrics, undefended, manifest["config"]["data"].get("classes")),
    )


def _exposed_class(metrics: pd.DataFrame, strongest: Any, names: list[str | int] | None) -> str | None:
    """:func:`most_exposed_class` for the undefended model's ``strongest`` AUC row, its classes named by
    ``names`` (``data.classes``) where given."""
    rows = metrics[
        (metrics.condition == "undefended")
        & (metrics.knowledge == strongest.knowledge)
        & (metrics.attack == strongest.attack)
        & metrics.slice.str.startswith(CLASS_SLICE)
    ]
    aucs = with_member_counts(rows[rows.metric == Metric.AUC], rows)
    if aucs.empty or Metric.MEMBERS not in aucs or aucs[Metric.MEMBERS].isna().any():
        return None  # no classes, or a metrics table written before their counts
    classes = {
        class_label(slice_class(r.slice), names): MeasuredAuc(r.value, int(r.members), int(r.non_members))
        for r in aucs.itertuples()
    }
    return most_exposed_class(str(strongest.attack), float(strongest.value), classes)


def skipped_sentence(metrics: pd.DataFrame) -> str | None:
    """The attacks the audit could not run, grouped by why (None when every configured attack ran)."""
    skipped = metrics[metrics.metric == Metric.SKIPPED].drop_duplicates(["attack", "note"])
    if skipped.empty:
        return None
    by_reason: dict[str, list[str]] = {}
    for row in skipped.itertuples():
        by_reason.setdefault(row.note, []).append(row.attack)
    count = skipped.attack.nunique()
    reasons = "; ".join(f"{', '.join(attacks)} ({reason})" for reason, attacks in by_reason.items())
    return f"{count} {'attack' if count == 1 else 'attacks'} did not run: {reasons}."

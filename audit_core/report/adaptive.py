"""The report's adaptive-attack section: averaging, naive against adaptive, per-input noise, the label-only
floor."""

from typing import Any

import numpy as np

from audit_core.audit.analysis import worst_case
from audit_core.defenses import Defense, DynaNoise
from audit_core.report.values import chosen_evaluation, interval
from audit_core.results.tables import AuditResult


def averaging_sections(result: AuditResult) -> list[dict[str, Any]]:
    """Per defended condition with several query budgets: each attack's AUC per budget and the budget at
    which it regains its undefended AUC − 0.5."""
    sections = []
    for ev in result.defended:
        budgets = sorted({p.queries for p in ev.averaging})
        if len(budgets) < 2:
            continue
        auc = {(p.attack, p.queries): p.auc for p in ev.averaging}
        rows = []
        for attack in ev.attacks:
            regain = result.queries_to_regain(ev, attack)
            rows.append(
                {
                    "attack": attack,
                    "undefended": f"{result.baseline.outcome(attack, result.knowledge[0]).auc.value:.3f}",
                    "auc": [f"{auc[(attack, k)]:.3f}" for k in budgets],
                    "regain": "not reached" if regain is None else str(regain),
                }
            )
        sections.append({"condition": result.name(ev.condition), "budgets": budgets, "rows": rows})
    return sections


def knowledge_sentence(result: AuditResult) -> str:
    """How much stronger the adaptive attacker is than the naive one, over the defended conditions."""
    if not result.defended or not {"naive", "adaptive"} <= set(result.knowledge):
        return ""
    gaps = {
        ev.condition: worst_case(ev.outcomes, knowledge="adaptive").auc.value
        - worst_case(ev.outcomes, knowledge="naive").auc.value
        for ev in result.defended
    }
    largest = max(gaps, key=gaps.get)
    sentence = (
        f"Against the adaptive attacker the strongest attack's AUC is {np.mean(list(gaps.values())):+.3f} "
        f"higher on average than against the naive attacker (largest gap {gaps[largest]:+.3f}, under "
        f"{result.name(largest)})."
    )
    chosen = chosen_evaluation(result)
    if chosen is not None:
        naive, adaptive = (result.midput(chosen, k).value for k in ("naive", "adaptive"))
        sentence += (
            f" The chosen defense's MIDPUT goes from {naive:+.4f} (naive) to {adaptive:+.4f} (adaptive)."
        )
    return (
        sentence + " A defense judged only against the naive attacker, as in the DynaNoise paper, looks "
        "stronger than it is."
    )


def label_only_floor(result: AuditResult, defenses: dict[str, Defense]) -> dict[str, Any] | None:
    """The label-only attack's AUC per condition next to the strongest attack's (worst over attackers)."""
    if "label_only" not in result.attacks:
        return None
    rows = []
    for ev in result.evaluations:
        label_only = worst_case(ev.outcomes, attack="label_only")
        defense = defenses.get(ev.condition)
        rows.append(
            {
                "condition": result.name(ev.condition),
                "keeps_label": "yes" if defense is None or defense.preserves_label else "no",
                "label_only": interval(label_only.auc),
                "worst": f"{worst_case(ev.outcomes).auc.value:.3f}",
            }
        )
    return {"floor": interval(result.baseline.outcome("label_only", result.knowledge[0]).auc), "rows": rows}


def per_input_rows(result: AuditResult, defenses: dict[str, Defense]) -> list[dict[str, Any]]:
    """Each DynaNoise condition's noise mode and the averaging attacker's strongest AUC at one query and at
    the largest budget (near-duplicate queries against per-input noise)."""
    rows = []
    for ev in result.defended:
        defense = defenses.get(ev.condition)
        if not isinstance(defense, DynaNoise) or len({p.queries for p in ev.averaging}) < 2:
            continue
        largest = max(p.queries for p in ev.averaging)
        top = {k: max((p for p in ev.averaging if p.queries == k), key=lambda p: p.auc) for k in (1, largest)}
        rows.append(
            {
                "condition": result.name(ev.condition),
                "mode": defense.noise_mode.replace("_", "-"),
                "queries": largest,
                "single": f"{top[1].auc:.3f} ({top[1].attack})",
                "averaged": f"{top[largest].auc:.3f} ({top[largest].attack})",
            }
        )
    return rows

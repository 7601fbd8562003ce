"""The report's adaptive-attack section: averaging, naive against adaptive, per-input noise, the label-only
floor, and the label-only query attacks against the gap attack and the reference attacks."""

from typing import Any

import numpy as np

from audit_core.attacks import ATTACKS, QueryAttack
from audit_core.audit.analysis import AttackOutcome, ConditionEvaluation, worst_case
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
    """Per condition, the strongest label-only attack (gap or query attack, worst over attackers) next to the
    strongest attack; the floor is the strongest label-only attack on the undefended model."""
    names = [a for a in result.attacks if ATTACKS[a].reads_labels_only]
    floor = _strongest(result.baseline, names)
    if floor is None:
        return None
    rows = []
    for ev in result.evaluations:
        label_only = _strongest(ev, names)
        defense = defenses.get(ev.condition)
        rows.append(
            {
                "condition": result.name(ev.condition),
                "keeps_label": "yes" if defense is None or defense.preserves_label else "no",
                "label_only": "not run"
                if label_only is None
                else f"{interval(label_only.auc)} ({label_only.attack})",
                "worst": f"{worst_case(ev.outcomes).auc.value:.3f}",
            }
        )
    return {"floor": interval(floor.auc), "attack": floor.attack, "rows": rows}


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


def _strongest(ev: ConditionEvaluation, names: list[str]) -> AttackOutcome | None:
    """The strongest of ``names`` on ``ev`` (worst case over attacker knowledge), or None if none ran."""
    outcomes = [o for o in ev.outcomes if o.attack in names]
    return worst_case(outcomes) if outcomes else None


def _beats(query: AttackOutcome, other: AttackOutcome | None, name: str) -> str:
    """Whether the query attack's AUC exceeds ``other``'s by more than its own interval half-width."""
    if other is None:
        return ""
    auc, theirs = query.auc, other.auc.value
    margin = (auc.ci_high - auc.ci_low) / 2
    verdict = "beats" if auc.value - theirs > margin else "does not beat"
    return f"{verdict} {name} ({auc.value:.3f} vs {theirs:.3f}, half-width {margin:.3f})"


def label_query_rows(result: AuditResult) -> list[dict[str, str]]:
    """Per condition, the stronger label-only query attack beside the gap attack and the strongest reference
    attack (LiRA, RMIA) on the same answers, each the worst case over attacker knowledge, and whether the
    query attack beats each by more than its own interval half-width."""
    queries = [a for a in result.attacks if issubclass(ATTACKS[a], QueryAttack)]
    references = [a for a in result.attacks if "references" in ATTACKS[a].requires]
    rows = []
    for ev in result.evaluations:
        query = _strongest(ev, queries)
        if query is None:
            continue
        gap, reference = _strongest(ev, ["label_only"]), _strongest(ev, references)
        verdicts = [_beats(query, gap, "the gap attack"), _beats(query, reference, "the reference attacks")]
        rows.append(
            {
                "condition": ev.condition,
                "query": f"{interval(query.auc)} ({query.attack})",
                "gap": "not run" if gap is None else interval(gap.auc),
                "reference": "not run"
                if reference is None
                else f"{interval(reference.auc)} ({reference.attack})",
                "verdict": "; ".join(v for v in verdicts if v) or "nothing to compare with",
            }
        )
    return rows


def query_budgets(result: AuditResult) -> str:
    """The query attacks' queries per record, as configured (for the methodology section)."""
    config = result.provenance["config"]
    parts = []
    for name in result.attacks:
        if issubclass(ATTACKS[name], QueryAttack):
            attack = ATTACKS[name](**config.get("attack_params", {}).get(name, {}))
            shape = tuple(result.provenance["data"]["record_shape"])
            parts.append(f"{name} {attack.queries_per_record(shape)}")
    return ", ".join(parts)

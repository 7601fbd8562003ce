"""Turns an AuditResult into the plain values the report templates show."""

import base64
import json
from collections.abc import Iterable
from typing import Any

import yaml

from audit_core.attacks import ATTACKS
from audit_core.audit.analysis import AttackOutcome, worst_case
from audit_core.defenses import Defense, DynaNoise
from audit_core.gate.check import GateVerdict
from audit_core.report import plots
from audit_core.report.adaptive import (
    averaging_sections,
    knowledge_sentence,
    label_only_floor,
    label_query_rows,
    per_input_rows,
    query_budgets,
)
from audit_core.report.explorer import budget_cell
from audit_core.report.exposure import (
    READERS,
    exposed_class_sentence,
    exposed_records,
    per_class_rows,
    record_ids_sentence,
    vulnerable_rows,
)
from audit_core.report.methodology import references_sentence, shadow_sentence
from audit_core.report.render import template_text
from audit_core.report.values import attack_groups, attack_head, chosen_evaluation, condition_modes, interval
from audit_core.results.risk import (
    RISK_TIERS,
    UNSHOWN_MARK,
    UNSHOWN_NOTE,
    MeasuredAuc,
    defense_effect,
    risk_statement,
    risk_tier,
    tier_range,
    unshown,
)
from audit_core.results.summary import setting, signed
from audit_core.results.tables import REGAINED_FRACTION, AuditResult
from audit_core.stats.metrics import TprAtFpr, resolution_mark
from audit_core.stats.names import FPR_TARGETS, HEADLINE_FPR, MEANINGS
from audit_core.tuning.search import SPLITS, TuningResult, choice_notes, comparison, comparison_metrics

KNOWLEDGE_TEXT = {
    "naive": "calibrates on undefended shadow and reference outputs (the DynaNoise paper's protocol)",
    "adaptive": "calibrates on shadow and reference outputs passed through the same defense",
    "averaging": "is adaptive and also repeats every query, averaging the answers",
}


def _data_uri(svg: str | None) -> str | None:
    return None if svg is None else "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def _chosen(result: AuditResult, tuning: TuningResult | None) -> dict[str, Any] | None:
    """The chosen defense for the summary: how it was chosen, its accuracy cost, and how the defense with
    the lowest worst-case attack AUC compares."""
    chosen = chosen_evaluation(result)
    if chosen is None:
        return None
    if tuning is not None:
        how = (
            f"tuned ({tuning.config.mode}, {len(tuning.trials)} trials) to optimise "
            f"{tuning.config.objective.replace('_', ' ')} against the {tuning.config.knowledge} attacker "
            f"with a test-accuracy drop of at most {tuning.config.budget:g}"
        )
    elif result.provenance.get("untuned"):
        how = "as configured, since the tuning kept no setting within its accuracy budget (see above)"
    else:
        how = "as configured (no tuning in this run)"
    before, after = result.baseline.test_accuracy, chosen.test_accuracy
    worst = {ev.condition: worst_case(ev.outcomes) for ev in result.defended}
    best = min(result.defended, key=lambda ev: worst[ev.condition].auc.value)
    return {
        "condition": result.name(chosen.condition),
        "how": how,
        "accuracy_before": interval(before, 4),
        "accuracy_after": interval(after, 4),
        "drop": f"{before.value - after.value:+.4f}",
        "worst_auc": f"{worst[chosen.condition].auc.value:.3f}",
        "worst_attack": worst[chosen.condition].attack,
        "effect": defense_effect(
            worst[chosen.condition].auc.value, worst_case(result.baseline.outcomes).auc.value
        ),
        "n_defended": len(result.defended),
        "best": result.name(best.condition),
        "best_auc": f"{worst[best.condition].auc.value:.3f}",
        "best_drop": f"{before.value - best.test_accuracy.value:+.4f}",
    }


def _verdict(verdict: GateVerdict | None) -> dict[str, Any] | None:
    if verdict is None:
        return None
    return {
        "status": verdict.status,
        "conditions": ", ".join(verdict.conditions),
        "broken": sum(not r.passed for r in verdict.rules),
        "shown": verdict.shown,
        "basis": verdict.basis,
        "recommendation": verdict.recommendation,
        "warnings": [w for w in verdict.warnings if w not in verdict.sanity],  # sanity: "Check the audit"
        "compared": verdict.comparison is not None,
        "rules": [
            {
                "rule": r.rule,
                "limit": f"{r.limit:g}",
                "outcome": r.outcome,
                "point": f"{r.measurement.point:.4f}",
                "bounds": f"{r.measurement.low:.4f} to {r.measurement.high:.4f}",
                "where": r.measurement.where,
                "passed": r.passed,
            }
            for r in verdict.rules
        ],
    }


def _measured(outcomes: Iterable[AttackOutcome]) -> list[MeasuredAuc]:
    """Each outcome's AUC with the audit points it was measured on."""
    return [MeasuredAuc(o.auc.value, o.members, o.non_members) for o in outcomes]


def _headline(result: AuditResult, chosen_only: bool = False) -> list[dict[str, Any]]:
    rows = []
    for ev, knowledge in condition_modes(result, chosen_only):
        top = worst_case(ev.outcomes, knowledge=knowledge)
        defended = ev is not result.baseline
        rows.append(
            {
                "condition": result.name(ev.condition),
                "knowledge": knowledge if defended else "—",
                "accuracy": f"{ev.test_accuracy.value:.4f}",
                "worst_attack": top.attack,
                "worst_auc": interval(top.auc),
                "tpr_1pct": _tpr_interval(top.tpr_at(HEADLINE_FPR)),
                "tier": risk_tier(top.auc.value)[0],
                "tier_mark": UNSHOWN_MARK if unshown(_measured(ev.outcomes)) else "",
                "midput": f"{result.midput(ev, knowledge).value:+.4f}" if defended else "—",
            }
        )
    return rows


def _paper_table(result: AuditResult, knowledge: str) -> list[dict[str, Any]]:
    return [
        {
            "condition": result.name(ev.condition),
            "accuracy": f"{ev.test_accuracy.value:.4f}",
            "asr": [f"{v:.4f}" for v in result.asr(ev, knowledge).values()],
            "midput": "—" if ev is result.baseline else f"{result.midput(ev, knowledge).value:+.4f}",
        }
        for ev in result.evaluations
    ]


def _midput_rows(result: AuditResult) -> list[dict[str, Any]]:
    rows = []
    for ev in result.defended:
        for knowledge in result.knowledge:
            score = result.midput(ev, knowledge)
            rows.append(
                {
                    "condition": result.name(ev.condition),
                    "knowledge": knowledge,
                    "accuracy_drop": f"{score.accuracy_drop:+.4f}",
                    "put": [f"{score.put[a]:+.4f}" for a in result.attacks],
                    "midput": f"{score.value:+.4f}",
                }
            )
    return rows


def _tpr_interval(point: TprAtFpr) -> str:
    """A TPR with its interval, marked where the non-members cannot resolve its target FPR."""
    return interval(point.tpr) + resolution_mark(point.resolved)


def _tpr_cell(outcome: AttackOutcome, target: float) -> str:
    point = outcome.tpr_at(target)
    return f"{point.tpr.value:.3f}" + resolution_mark(point.resolved)


def _detail_rows(result: AuditResult, chosen_only: bool = False) -> list[dict[str, Any]]:
    return [
        {
            "condition": result.name(ev.condition),
            "knowledge": o.knowledge if ev is not result.baseline else "—",
            "attack": o.attack,
            "auc": interval(o.auc),
            "balanced_accuracy": interval(o.balanced_accuracy),
            "best_accuracy": f"{o.best_accuracy:.3f}",
            "tpr": [_tpr_cell(o, f) for f in FPR_TARGETS],
            "precision": "—" if o.precision.value != o.precision.value else f"{o.precision.value:.3f}",
            "epsilon": f"{o.epsilon_lower_bound:.2f}",
        }
        for ev, knowledge in condition_modes(result, chosen_only)
        for o in ev.outcomes
        if o.knowledge == knowledge
    ]


def _auc_grid(result: AuditResult) -> list[dict[str, Any]]:
    """The compact appendix: per condition and attacker knowledge, each attack's AUC."""
    return [
        {
            "condition": result.name(ev.condition),
            "knowledge": knowledge if ev is not result.baseline else "—",
            "auc": [f"{ev.outcome(a, knowledge).auc.value:.3f}" for a in result.attacks],
        }
        for ev, knowledge in condition_modes(result)
    ]


def _first_sentence(text: str) -> str:
    sentence = " ".join(text.split()).split(". ")[0].replace("``", "").replace("*", "")  # reST marks off
    return sentence if sentence.endswith(".") else sentence + "."


def _glossary(result: AuditResult) -> dict[str, Any]:
    """Risk tiers with their AUC ranges, each attack run in one sentence (its class's docstring), each
    metric shown."""
    return {
        "tiers": [{"name": t.name, "range": tier_range(t), "meaning": t.meaning} for t in RISK_TIERS],
        "attacks": {a: _first_sentence(ATTACKS[a].__doc__ or "") for a in result.attacks},
        "metrics": dict(MEANINGS.values()),
    }


def _explorer(result: AuditResult) -> dict[str, Any] | None:
    """The explorer's embedded JSON and script, its sliders and its static values at the chosen point."""
    if result.explorer is None:
        return None
    payload = result.explorer
    budget, drop = payload["budget"], payload["undefended_accuracy"] - payload["reference"]["accuracy"]
    axes, chosen = payload["axes"], payload["chosen"]
    return {
        **{
            k: payload[k] for k in ("params", "budget", "reference", "undefended_accuracy", "draws", "sample")
        },
        "json": json.dumps(payload, separators=(",", ":")).replace("</", "<\\/"),
        "script": template_text("explorer.js"),
        "within_budget": None if budget is None else budget_cell(drop, budget),
        "grid": len(payload["accuracy"]),
        "sliders": [
            {
                "id": f"ex-{slug}",
                "symbol": symbol,
                "last": len(axes[p]) - 1,
                "at": chosen[p],
                "value": axes[p][chosen[p]],
            }
            for p, slug, symbol in (
                ("sigma0_sq", "sigma", "σ0²"),
                ("lam", "lam", "λ"),
                ("temperature", "temp", "T"),
            )
        ],
    }


def _tuning(tuning: TuningResult | None, front_svg: str | None) -> dict[str, Any] | None:
    if tuning is None:
        return None
    config, summary = tuning.config, tuning.summary()
    metrics = comparison_metrics(config.objective)
    rows = [
        {
            "family": row["family"],
            "condition": setting(row["condition"]),
            "cells": [signed(row[f"{m}/{s}"]) for m in metrics for s in SPLITS],
        }
        for row in comparison(tuning.front, config.objective).to_dict("records")
    ]
    return {
        "chosen": tuning.chosen.label,
        "objective": config.objective.replace("_", " "),
        "knowledge": config.knowledge,
        "budget": f"{config.budget:g}",
        "mode": config.mode,
        "n_trials": len(tuning.trials),
        "sizes": tuning.sizes,
        "notes": choice_notes(summary["params"], summary["ranges"]),
        "metrics": [m.replace("_", " ") for m in metrics],
        "rows": rows,
        "front": _data_uri(plots.pareto_front(tuning) if front_svg is None else front_svg),
    }


def build_context(
    result: AuditResult,
    defenses: list[Defense],
    tuning: TuningResult | None = None,
    verdict: GateVerdict | None = None,
    *,
    front_svg: str | None = None,
) -> dict[str, Any]:
    """Everything the report template needs, as strings, numbers and SVG markup; records appear only as
    keyed hashes. ``defenses`` are the audited conditions' fitted defenses; ``front_svg`` the tuning front
    already drawn (for ``front.svg``), so it is not drawn twice."""
    provenance = result.provenance
    class_names = provenance["config"]["data"].get("classes")  # labels named in data.classes
    by_condition = {d.label: d for d in defenses}
    chosen = chosen_evaluation(result)
    focus = [result.baseline] + ([chosen] if chosen is not None else [])
    dynanoise = [d for d in defenses if isinstance(d, DynaNoise)]
    baseline = worst_case(result.baseline.outcomes, knowledge=result.knowledge[0])
    tier, tier_text = risk_statement(_measured(result.baseline.outcomes))
    n_non_members = int((~result.is_member).sum())
    skipped = {a: r for ev in result.evaluations for a, r in ev.skipped.items()}
    return {
        "run_name": result.run_name,
        "provenance": provenance,
        "config_yaml": yaml.safe_dump(provenance["config"], sort_keys=False),
        "attacks": result.attacks,
        "attack_heads": [attack_head(a) for a in result.attacks],
        "attack_groups": attack_groups(len(result.attacks)),
        "knowledge": result.knowledge,
        "knowledge_text": KNOWLEDGE_TEXT,
        "fpr_targets": [f"{100 * f:g}%" for f in FPR_TARGETS],
        "tier": tier,
        "tier_text": tier_text,
        "unshown_note": UNSHOWN_NOTE,
        "baseline_attack": baseline.attack,
        "baseline_auc": interval(baseline.auc),
        "verdict": _verdict(verdict),
        "chosen": _chosen(result, tuning),
        "summary_rows": _headline(result, chosen_only=True),
        "headline": _headline(result),
        "paper_tables": {k: _paper_table(result, k) for k in result.knowledge},
        "midput_rows": _midput_rows(result),
        "detail_rows": _detail_rows(result, chosen_only=True),
        "auc_grid": _auc_grid(result),
        "glossary": _glossary(result),
        "averaging": averaging_sections(result),
        "label_only": label_only_floor(result, by_condition),
        "label_queries": label_query_rows(result),
        "query_budgets": query_budgets(result),
        "per_input": per_input_rows(result, by_condition),
        "regained_percent": f"{100 * REGAINED_FRACTION:g}",
        "knowledge_sentence": knowledge_sentence(result),
        "skipped": skipped,
        "shadow_sentence": shadow_sentence(provenance["config"]),
        "references_sentence": references_sentence(provenance),
        "fidelity_warning": (provenance.get("reference_fidelity") or {}).get("warning"),
        "slice_attack": baseline.attack,
        "columns": [
            result.name(ev.condition) if ev is result.baseline else f"{result.name(ev.condition)}, {k}"
            for ev, k in condition_modes(result, chosen_only=True)
        ],
        "per_class": per_class_rows(result, baseline.attack, class_names),
        "exposed_class": exposed_class_sentence(result, baseline.attack, class_names),
        "classes": len(result.baseline.outcome(baseline.attack, result.knowledge[0]).per_class_auc),
        "exposed": exposed_records(result, baseline.attack, names=class_names),
        "record_ids": record_ids_sentence(provenance),
        "readers": READERS,
        "vulnerable": vulnerable_rows(result, baseline.attack),
        "explorer": _explorer(result),
        "tuning": _tuning(tuning, front_svg),
        "n_members": int(result.is_member.sum()),
        "n_non_members": n_non_members,
        "figures": {
            "roc": _data_uri(plots.roc_curves(result, result.knowledge[-1], focus)),
            "confidence": _data_uri(plots.confidence_histograms(result, focus)),
            "noise": _data_uri(plots.noise_variance_curves(dynanoise, result.name)),
        },
    }

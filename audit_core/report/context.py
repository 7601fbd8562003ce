"""Turns an AuditResult into the plain values the report templates show."""

import base64
import json
from typing import Any

import numpy as np
import yaml
from scipy import stats

from audit_core.defenses import DynaNoise
from audit_core.evaluation import FPR_TARGETS, AttackOutcome, ConditionEvaluation
from audit_core.metrics import Estimate
from audit_core.report import plots
from audit_core.report.explorer import record_summary
from audit_core.report.render import TEMPLATE_DIR
from audit_core.results import REGAINED_FRACTION, AuditResult, hash_record_ids
from audit_core.tuning import SPLITS, TuningResult, comparison, comparison_metrics

KNOWLEDGE_TEXT = {
    "naive": "calibrates on undefended shadow and reference outputs (the DynaNoise paper's protocol)",
    "adaptive": "calibrates on shadow and reference outputs passed through the same defense",
    "averaging": "is adaptive and also repeats every query, averaging the answers",
}


def shadow_sentence(config: dict[str, Any]) -> str:
    """How the attacker's shadow outputs were obtained, for the methodology section."""
    kind = config["shadow"]["kind"]
    if kind == "predictions":
        return (
            "The shadow outputs were supplied as precomputed predictions on population records, each marked "
            "as in or out of the reference model's training set; shadow-based attacks calibrate on them."
        )
    if kind == "none":
        return "The attacker has no shadow model; attacks that calibrate on one were skipped."
    return (
        f"Shadow models ({config['shadow_models']}) are trained like the target on population records; "
        "threshold, shadow-model and the paper's LiRA attacks calibrate on their outputs for their own "
        "training (member) and held-out (non-member) records, never on the audited records."
    )


def _data_uri(svg: str | None) -> str | None:
    return None if svg is None else "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def _interval(e: Estimate, digits: int = 3) -> str:
    return f"{e.value:.{digits}f} [{e.ci_low:.{digits}f}, {e.ci_high:.{digits}f}]"


def strongest(evaluation: ConditionEvaluation, knowledge: str) -> AttackOutcome:
    """The outcome with the highest AUC under ``knowledge``."""
    return max((o for o in evaluation.outcomes if o.knowledge == knowledge), key=lambda o: o.auc.value)


def risk_tier(auc: float) -> tuple[str, str]:
    """A plain-language risk tier for the strongest attack's AUC."""
    if auc < 0.55:
        return "low", "Attacks do little better than a coin flip at telling members from non-members."
    if auc < 0.65:
        return "moderate", "Attacks tell members from non-members noticeably better than chance."
    return "high", "Attacks reliably tell whether a record was in the training set."


def _condition_modes(result: AuditResult) -> list[tuple[ConditionEvaluation, str]]:
    """(condition, knowledge) pairs to show: the undefended baseline once, each defense per knowledge."""
    return [(result.baseline, result.knowledge[0])] + [
        (ev, k) for ev in result.defended for k in result.knowledge
    ]


def _headline(result: AuditResult) -> list[dict[str, Any]]:
    rows = []
    for ev, knowledge in _condition_modes(result):
        top = strongest(ev, knowledge)
        defended = ev is not result.baseline
        rows.append(
            {
                "condition": ev.condition,
                "knowledge": knowledge if defended else "—",
                "accuracy": f"{ev.test_accuracy.value:.4f}",
                "worst_attack": top.attack,
                "worst_auc": _interval(top.auc),
                "tpr_1pct": _interval(top.tpr_at(0.01).tpr),
                "tier": risk_tier(top.auc.value)[0],
                "midput": f"{result.midput(ev, knowledge).value:+.4f}" if defended else "—",
            }
        )
    return rows


def _paper_table(result: AuditResult, knowledge: str) -> list[dict[str, Any]]:
    return [
        {
            "condition": ev.condition,
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
                    "condition": ev.condition,
                    "knowledge": knowledge,
                    "accuracy_drop": f"{score.accuracy_drop:+.4f}",
                    "put": [f"{score.put[a]:+.4f}" for a in result.attacks],
                    "midput": f"{score.value:+.4f}",
                }
            )
    return rows


def _tpr_cell(outcome: AttackOutcome, target: float) -> str:
    point = outcome.tpr_at(target)
    return f"{point.tpr.value:.3f}" + ("" if point.resolved else "†")


def _detail_rows(result: AuditResult) -> list[dict[str, Any]]:
    return [
        {
            "condition": ev.condition if ev is result.baseline else ev.defense,
            "knowledge": o.knowledge if ev is not result.baseline else "—",
            "attack": o.attack,
            "auc": _interval(o.auc),
            "balanced_accuracy": _interval(o.balanced_accuracy),
            "best_accuracy": f"{o.best_accuracy:.3f}",
            "tpr": [_tpr_cell(o, f) for f in FPR_TARGETS],
            "precision": "—" if o.precision.value != o.precision.value else f"{o.precision.value:.3f}",
            "epsilon": f"{o.epsilon_lower_bound:.2f}",
        }
        for ev, knowledge in _condition_modes(result)
        for o in ev.outcomes
        if o.knowledge == knowledge
    ]


def _averaging(result: AuditResult) -> list[dict[str, Any]]:
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
        sections.append({"condition": ev.condition, "budgets": budgets, "rows": rows})
    return sections


def _knowledge_sentence(result: AuditResult) -> str:
    sentences = []
    for ev in result.defended:
        parts = [
            f"{k}: strongest AUC {strongest(ev, k).auc.value:.3f} ({strongest(ev, k).attack}), "
            f"MIDPUT {result.midput(ev, k).value:+.4f}"
            for k in result.knowledge
        ]
        baseline = strongest(result.baseline, result.knowledge[0])
        sentences.append(
            f"Under {ev.condition} ({'; '.join(parts)}), against an undefended strongest AUC of "
            f"{baseline.auc.value:.3f} ({baseline.attack}). A defense judged only against the naive attacker "
            "looks stronger than it is; the adaptive and averaging rows are what a determined attacker gets."
        )
    return " ".join(sentences)


def _per_class_rows(result: AuditResult, attack: str) -> list[dict[str, Any]]:
    """Per true class: record counts and ``attack``'s AUC on the class's records under each condition."""
    rows = []
    for c in sorted(result.baseline.outcome(attack, result.knowledge[0]).per_class_auc):
        in_class = result.labels == c
        cells = []
        for ev, knowledge in _condition_modes(result):
            auc = ev.outcome(attack, knowledge).per_class_auc.get(c)
            cells.append("—" if auc is None else f"{auc:.3f}")
        rows.append(
            {
                "label": c,
                "members": int((in_class & result.is_member).sum()),
                "non_members": int((in_class & ~result.is_member).sum()),
                "auc": cells,
            }
        )
    return rows


def _exposed_records(result: AuditResult, attack: str, salt: str, count: int = 10) -> list[dict[str, Any]]:
    """The members ``attack`` ranks as most likely members without a defense, by salted hash only, with their
    rank percentile among all audit points under each condition (100 = ranked first)."""
    hashed = hash_record_ids(result.record_ids, salt)
    percentiles = {}
    for ev, knowledge in _condition_modes(result):
        scores = ev.outcome(attack, knowledge).scores
        percentiles[(ev.condition, knowledge)] = 100 * stats.rankdata(scores) / len(scores)
    baseline = percentiles[(result.baseline.condition, result.knowledge[0])]
    members = np.flatnonzero(result.is_member)
    top = members[np.argsort(-baseline[members], kind="stable")[:count]]
    return [
        {
            "record": hashed[i],
            "label": int(result.labels[i]),
            "percentiles": [f"{p[i]:.1f}" for p in percentiles.values()],
        }
        for i in top
    ]


def _explorer(result: AuditResult) -> dict[str, Any] | None:
    """The explorer's embedded JSON and script, and its static values at the chosen parameters."""
    if result.explorer is None:
        return None
    payload = result.explorer
    summary = record_summary(payload, 0)
    return {
        "json": json.dumps(payload, separators=(",", ":")).replace("</", "<\\/"),
        "script": (TEMPLATE_DIR / "explorer.js").read_text(encoding="utf-8"),
        "params": payload["params"],
        "budget": payload["budget"],
        "reference": payload["reference"],
        "undefended_accuracy": payload["undefended_accuracy"],
        "n_records": len(payload["records"]),
        "n_test": len(payload["test"]["labels"]),
        "draws": payload["draws"],
        "records": payload["records"],
        "summary": summary,
        "rows": [
            {"label": j, "true": j == summary["record"]["label"], "p": p, "mean": m, "spread": sd}
            for j, (p, m, sd) in enumerate(
                zip(summary["probs"], summary["mean"], summary["spread"], strict=True)
            )
        ],
    }


def _tuning(tuning: TuningResult | None) -> dict[str, Any] | None:
    if tuning is None:
        return None
    config = tuning.config
    metrics = comparison_metrics(config.objective)
    rows = [
        {
            "family": row["family"],
            "condition": row["condition"],
            "cells": [f"{row[f'{m}/{s}']:+.4f}" for m in metrics for s in SPLITS],
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
        "metrics": [m.replace("_", " ") for m in metrics],
        "rows": rows,
        "front": _data_uri(plots.pareto_front(tuning)),
    }


def build_context(
    result: AuditResult, defenses: list[DynaNoise], salt: str, tuning: TuningResult | None = None
) -> dict[str, Any]:
    """Everything the report template needs, as strings, numbers and SVG markup; records appear only as
    hashes salted with ``salt``."""
    provenance = result.provenance
    baseline = strongest(result.baseline, result.knowledge[0])
    tier, tier_text = risk_tier(baseline.auc.value)
    n_non_members = int((~result.is_member).sum())
    skipped = {a: r for ev in result.evaluations for a, r in ev.skipped.items()}
    return {
        "run_name": result.run_name,
        "provenance": provenance,
        "config_yaml": yaml.safe_dump(provenance["config"], sort_keys=False),
        "attacks": result.attacks,
        "knowledge": result.knowledge,
        "knowledge_text": KNOWLEDGE_TEXT,
        "fpr_targets": [f"{100 * f:g}%" for f in FPR_TARGETS],
        "tier": tier,
        "tier_text": tier_text,
        "baseline_attack": baseline.attack,
        "baseline_auc": _interval(baseline.auc),
        "headline": _headline(result),
        "paper_tables": {k: _paper_table(result, k) for k in result.knowledge},
        "midput_rows": _midput_rows(result),
        "detail_rows": _detail_rows(result),
        "averaging": _averaging(result),
        "regained_percent": f"{100 * REGAINED_FRACTION:g}",
        "knowledge_sentence": _knowledge_sentence(result),
        "skipped": skipped,
        "shadow_sentence": shadow_sentence(provenance["config"]),
        "slice_attack": baseline.attack,
        "columns": [
            ev.defense if ev is result.baseline else f"{ev.defense} {k}" for ev, k in _condition_modes(result)
        ],
        "per_class": _per_class_rows(result, baseline.attack),
        "exposed": _exposed_records(result, baseline.attack, salt),
        "explorer": _explorer(result),
        "tuning": _tuning(tuning),
        "n_members": int(result.is_member.sum()),
        "n_non_members": n_non_members,
        "figures": {
            "roc": _data_uri(plots.roc_curves(result, result.knowledge[-1])),
            "confidence": _data_uri(plots.confidence_histograms(result)),
            "noise": _data_uri(plots.noise_variance_curves(defenses)),
        },
    }

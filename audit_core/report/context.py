"""Turns an AuditResult into the plain values the report templates show."""

import base64
from typing import Any

import yaml

from audit_core.defenses import DynaNoise
from audit_core.evaluation import KNOWLEDGE, ConditionEvaluation
from audit_core.metrics import Estimate
from audit_core.report import plots
from audit_core.results import AuditResult

KNOWLEDGE_TEXT = {
    "naive": "calibrated on undefended shadow outputs (the paper's protocol)",
    "adaptive": "calibrated on shadow outputs passed through the same defense",
}


def _data_uri(svg: str | None) -> str | None:
    return None if svg is None else "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def _interval(e: Estimate) -> str:
    return f"{e.value:.3f} [{e.ci_low:.3f}, {e.ci_high:.3f}]"


def worst_auc(evaluation: ConditionEvaluation, knowledge: str) -> tuple[str, Estimate]:
    """The attack with the highest AUC on ``evaluation`` and its estimate."""
    best = max((o for o in evaluation.outcomes if o.knowledge == knowledge), key=lambda o: o.auc.value)
    return best.attack, best.auc


def risk_tier(auc: float) -> tuple[str, str]:
    """A plain-language risk tier for the strongest attack's AUC."""
    if auc < 0.55:
        return "low", "Attacks do little better than a coin flip at telling members from non-members."
    if auc < 0.65:
        return "moderate", "Attacks tell members from non-members noticeably better than chance."
    return "high", "Attacks reliably tell whether a record was in the training set."


def _headline(result: AuditResult) -> list[dict[str, Any]]:
    rows = []
    for ev in result.evaluations:
        for knowledge in KNOWLEDGE if ev.defense != "undefended" else ("naive",):
            attack, auc = worst_auc(ev, knowledge)
            rows.append(
                {
                    "condition": ev.condition,
                    "knowledge": "—" if ev.defense == "undefended" else knowledge,
                    "accuracy": f"{ev.test_accuracy.value:.4f}",
                    "worst_attack": attack.replace("_", " "),
                    "worst_auc": _interval(auc),
                    "tier": risk_tier(auc.value)[0],
                    "midput": "—"
                    if ev.defense == "undefended"
                    else f"{result.midput(ev, knowledge).value:+.4f}",
                }
            )
    return rows


def _paper_table(result: AuditResult, knowledge: str) -> list[dict[str, Any]]:
    return [
        {
            "condition": ev.condition,
            "accuracy": f"{ev.test_accuracy.value:.4f}",
            "asr": [f"{v:.4f}" for v in result.asr(ev, knowledge).values()],
            "midput": "—" if ev.defense == "undefended" else f"{result.midput(ev, knowledge).value:+.4f}",
        }
        for ev in result.evaluations
    ]


def _midput_rows(result: AuditResult) -> list[dict[str, Any]]:
    rows = []
    for ev in result.defended:
        for knowledge in KNOWLEDGE:
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


def _detail_rows(result: AuditResult) -> list[dict[str, Any]]:
    return [
        {
            "condition": ev.condition,
            "knowledge": o.knowledge,
            "attack": o.attack.replace("_", " "),
            "auc": _interval(o.auc),
            "balanced_accuracy": _interval(o.balanced_accuracy),
            "advantage": f"{o.advantage:.3f}",
            "threshold": f"{o.threshold:.4g}",
        }
        for ev in result.evaluations
        for o in ev.outcomes
    ]


def _adaptive_gap_sentence(result: AuditResult) -> str:
    sentences = []
    for ev in result.defended:
        naive = result.midput(ev, "naive").value
        adaptive = result.midput(ev, "adaptive").value
        sentences.append(
            f"For {ev.condition}, MIDPUT is {naive:+.4f} against the naive attacker and {adaptive:+.4f} "
            f"against the adaptive one; the threshold-free AUC is the same for both, because these threshold "
            "attacks rank records by the same statistic and only their calibrated threshold differs."
        )
    return " ".join(sentences)


def build_context(result: AuditResult, defenses: list[DynaNoise]) -> dict[str, Any]:
    """Everything the report template needs, as strings, numbers and SVG markup."""
    provenance = result.provenance
    baseline_attack, baseline_auc = worst_auc(result.baseline, "naive")
    tier, tier_text = risk_tier(baseline_auc.value)
    n_members = int(result.is_member.sum())
    n_non_members = int((~result.is_member).sum())
    return {
        "run_name": result.run_name,
        "provenance": provenance,
        "config_yaml": yaml.safe_dump(provenance["config"], sort_keys=False),
        "attacks": [a.replace("_", " ") for a in result.attacks],
        "knowledge_text": KNOWLEDGE_TEXT,
        "tier": tier,
        "tier_text": tier_text,
        "baseline_attack": baseline_attack.replace("_", " "),
        "baseline_auc": _interval(baseline_auc),
        "headline": _headline(result),
        "paper_tables": {k: _paper_table(result, k) for k in KNOWLEDGE},
        "midput_rows": _midput_rows(result),
        "detail_rows": _detail_rows(result),
        "adaptive_gap": _adaptive_gap_sentence(result),
        "n_members": n_members,
        "n_non_members": n_non_members,
        "figures": {
            "roc": _data_uri(plots.roc_curves(result)),
            "confidence": _data_uri(plots.confidence_histograms(result)),
            "noise": _data_uri(plots.noise_variance_curves(defenses)),
        },
    }

"""The report's figures, rendered by matplotlib to self-contained SVG strings."""

import io
from collections.abc import Callable

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import roc_curve

from audit_core.audit.analysis import ConditionEvaluation
from audit_core.defenses import DynaNoise
from audit_core.results.tables import AuditResult
from audit_core.stats.names import Metric
from audit_core.tuning.search import OBJECTIVES, TuningResult

_COLORS = ["#1f4e79", "#c0504d", "#4f8a3c", "#8064a2", "#d98c1f", "#2c9fa3"]
plt.rcParams.update(
    {"font.size": 8, "svg.fonttype": "none", "axes.spines.top": False, "axes.spines.right": False}
)


def _svg(figure: plt.Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def roc_curves(result: AuditResult, knowledge: str, evaluations: list[ConditionEvaluation]) -> str:
    """Log-log ROC curves per attack, one line per condition in ``evaluations``; the diagonal is a random
    guess."""
    attacks = result.attacks
    columns = min(len(attacks), 4)
    rows = -(-len(attacks) // columns)
    figure, axes = plt.subplots(
        rows, columns, figsize=(1.9 * columns + 0.4, 2.0 * rows), squeeze=False, sharex=True, sharey=True
    )
    floor = 1.0 / max(1, (~result.is_member).sum())
    for ax, attack in zip(axes.flat, attacks, strict=False):
        for color, ev in zip(_COLORS, evaluations, strict=False):
            fpr, tpr, _ = roc_curve(result.is_member, ev.outcome(attack, knowledge).scores)
            ax.plot(
                np.maximum(fpr, floor),
                np.maximum(tpr, floor),
                color=color,
                lw=1.2,
                label=result.name(ev.condition),
            )
        ax.plot([floor, 1], [floor, 1], color="#999999", lw=0.8, ls="--")
        ax.set(xscale="log", yscale="log", title=attack.replace("_", " "), xlabel="FPR", ylabel="TPR")
        ax.minorticks_off()  # decades suffice; minor ticks made this the slowest figure to lay out
        ax.label_outer()  # the axes are shared: labels on the outer panels only
    for ax in list(axes.flat)[len(attacks) :]:
        ax.axis("off")
    figure.legend(*axes.flat[0].get_legend_handles_labels(), loc="lower center", frameon=False, fontsize=7)
    figure.subplots_adjust(left=0.08, right=0.98, top=0.95, bottom=0.06 + 0.5 / (2.0 * rows), hspace=0.35)
    return _svg(figure)


def confidence_histograms(result: AuditResult, evaluations: list[ConditionEvaluation]) -> str | None:
    """Top-class released probability of members vs non-members per condition in ``evaluations`` (from
    ``paper_confidence``, whose score is exactly that probability)."""
    if "paper_confidence" not in result.attacks:
        return None
    figure, axes = plt.subplots(1, len(evaluations), figsize=(3.2 * len(evaluations), 2.2), squeeze=False)
    for ax, ev in zip(axes.flat, evaluations, strict=True):
        scores = ev.outcome("paper_confidence", result.knowledge[0]).scores
        bins = np.linspace(scores.min(), scores.max() + 1e-12, 30)
        ax.hist(scores[result.is_member], bins=bins, alpha=0.6, color=_COLORS[0], label="members")
        ax.hist(scores[~result.is_member], bins=bins, alpha=0.6, color=_COLORS[1], label="non-members")
        ax.set(xlabel="released top-class probability", ylabel="records")
        ax.set_title(result.name(ev.condition), fontsize=7)
    figure.legend(
        *axes.flat[0].get_legend_handles_labels(), loc="lower center", ncols=2, frameon=False, fontsize=7
    )
    figure.tight_layout(rect=(0, 0.1, 1, 1))  # the legend below the panels, outside the data
    return _svg(figure)


def noise_variance_curves(defenses: list[DynaNoise], name: Callable[[str], str] = str) -> str | None:
    """DynaNoise's noise variance against the normalised prediction entropy, with static noise for scale;
    ``name`` turns a condition's label into the name the legend shows."""
    if not defenses:
        return None
    figure, ax = plt.subplots(figsize=(3.6, 2.2))
    normalised_entropy = np.linspace(0, 1, 101)
    for color, d in zip(_COLORS[1:], defenses, strict=False):
        variance = d.sigma0_sq * (1 + d.lam * (1 - normalised_entropy))
        ax.plot(normalised_entropy, variance, color=color, lw=1.4, label=name(d.label))
        ax.axhline(d.sigma0_sq, color=color, lw=0.8, ls=":", label=f"static noise, variance {d.sigma0_sq:g}")
    ax.set(xlabel="prediction entropy H / log k", ylabel="noise variance on logits")
    ax.legend(frameon=False, fontsize=6, loc="center left", bbox_to_anchor=(1.0, 0.5))  # outside the data
    figure.tight_layout()
    return _svg(figure)


def pareto_front(tuning: TuningResult) -> str:
    """Accuracy drop against the objective's attack metric on the tuning split: each defense's points,
    its Pareto front as a line, its chosen setting as a star, and the accuracy budget as a dashed line."""
    metric = OBJECTIVES[tuning.config.objective].attack_metric
    points = tuning.front[tuning.front.split == "tuning"]
    figure, ax = plt.subplots(figsize=(6.0, 3.4))
    palette = plt.get_cmap("tab10")
    for index, (family, group) in enumerate(points.groupby("family", sort=False)):
        color = palette(index % 10)
        ax.scatter(group.accuracy_drop, group[metric], s=8, color=color, alpha=0.35, linewidths=0)
        front = group[group.on_front].sort_values(Metric.ACCURACY_DROP)
        ax.plot(front.accuracy_drop, front[metric], color=color, lw=1.2, marker="o", ms=2.5, label=family)
        chosen = group[group.chosen]
        ax.scatter(chosen.accuracy_drop, chosen[metric], s=70, marker="*", color=color, edgecolors="black")
    ax.axvline(tuning.config.budget, color="#999999", lw=0.8, ls="--")
    ax.set_xscale("symlog", linthresh=max(2 * tuning.config.budget, 0.01))  # linear near the budget
    ax.set(
        xlabel="test-accuracy drop (tuning split; log scale beyond twice the budget)",
        ylabel=f"{metric.replace('_', ' ')} ({tuning.config.knowledge} attacker)",
    )
    ax.legend(frameon=False, fontsize=6, loc="center left", bbox_to_anchor=(1.0, 0.5))
    figure.tight_layout()
    return _svg(figure)

"""The interactive DynaNoise explorer's data: aggregates over a parameter grid, nothing per record.

Python computes, once per audit, DynaNoise's expected test accuracy and the threshold-free AUCs of the loss
and confidence attacks at every point of a grid of (sigma0_sq, lam, T) that spans the tuning ranges and
contains the chosen and the paper's settings exactly; the page only looks the numbers up as the sliders snap
from grid value to grid value. The payload holds the grid's axes and these set-wide numbers: no logits, no
label, no membership flag, no record id. The records and the noise behind the numbers are drawn from a seed
derived from the run's record key, so without the key no one knows which audited records the numbers come
from nor can replay their noise.
"""

from typing import Any

import numpy as np

from audit_core.defenses import PAPER_SETTING, DynaNoise

PARAMS = ("sigma0_sq", "lam", "temperature")
STEPS = 8  # evenly spaced values per axis across its range, plus the chosen and the paper's value
DRAWS = 8  # noise draws per record for the set-wide numbers
MAX_PER_GROUP = 200  # members, non-members and test records drawn for the numbers (at most, each)
DIGITS = 4  # the embedded numbers are rounded to this many decimals, as the page shows them


def _axis(low: float, high: float) -> list[float]:
    """``STEPS`` evenly spaced values from ``low`` to ``high``, to 6 decimals of the range's width (a range
    narrower than 1, such as ``[0, 5e-06]``, keeps as many significant digits)."""
    width = high - low
    decimals = 6 - min(0, int(np.floor(np.log10(width)))) if width > 0 else 6
    return np.linspace(low, high, STEPS).round(decimals).tolist()


def grid_axes(ranges: dict[str, tuple[float, float]], *points: dict[str, float]) -> dict[str, list[float]]:
    """Per parameter, ``STEPS`` evenly spaced values over its range with each of ``points``' value added."""
    return {name: sorted({*_axis(*ranges[name]), *(p[name] for p in points)}) for name in PARAMS}


def _auc(scores: np.ndarray, is_member: np.ndarray) -> np.ndarray:
    """The rank AUC (ties count one half) of ``scores`` along their last axis: sorted once, each tie group
    gets its mean rank (faster than ``scipy.stats.rankdata`` on a batch)."""
    order = np.argsort(scores, axis=-1)
    ordered = np.take_along_axis(scores, order, axis=-1)
    n = scores.shape[-1]
    position = np.arange(1, n + 1)
    starts = np.diff(ordered, axis=-1, prepend=-np.inf) != 0
    ends = np.diff(ordered, axis=-1, append=np.inf) != 0
    first = np.maximum.accumulate(np.where(starts, position, 0), axis=-1)
    last = np.flip(np.minimum.accumulate(np.flip(np.where(ends, position, n + 1), -1), axis=-1), -1)
    m = is_member.sum()
    member_ranks = ((first + last) / 2 * is_member[order]).sum(axis=-1)
    return (member_ranks - m * (m + 1) / 2) / (m * (n - m))


def grid_metrics(
    audit_logits: np.ndarray,
    labels: np.ndarray,
    is_member: np.ndarray,
    test_logits: np.ndarray,
    test_labels: np.ndarray,
    axes: dict[str, list[float]],
    noise: np.ndarray,
) -> dict[str, np.ndarray]:
    """Mean over the draws of ``noise`` (shape draws x (audit + test records) x classes, standard normal, the
    same for every grid point) of the test accuracy and the loss / confidence attack AUCs, each indexed
    ``[sigma0_sq, lam, T]``. Accuracy does not depend on T (dividing by T keeps the argmax)."""
    logits = np.vstack([audit_logits, test_logits])
    n_audit = len(audit_logits)
    temperatures = np.asarray(axes["temperature"])[:, None, None, None]
    shape = tuple(len(axes[p]) for p in PARAMS)
    out = {name: np.empty(shape) for name in ("accuracy", "auc_loss", "auc_confidence")}
    for i, sigma0_sq in enumerate(axes["sigma0_sq"]):
        for j, lam in enumerate(axes["lam"]):
            std = np.sqrt(DynaNoise(sigma0_sq=sigma0_sq, lam=lam).noise_variance(logits))
            noisy = logits + std[:, None] * noise  # draws x records x classes
            hits = noisy[:, n_audit:].argmax(axis=2) == test_labels
            out["accuracy"][i, j, :] = hits.mean()
            scaled = noisy[:, :n_audit] / temperatures  # T x draws x records x classes
            top = scaled.max(axis=3)
            log_norm = top + np.log(np.exp(scaled - top[..., None]).sum(axis=3))
            log_true = np.take_along_axis(scaled, labels[None, None, :, None], axis=3)[..., 0] - log_norm
            out["auc_loss"][i, j] = _auc(log_true, is_member).mean(axis=1)
            out["auc_confidence"][i, j] = _auc(top - log_norm, is_member).mean(axis=1)
    return out


def _draw(rng: np.random.Generator, index: np.ndarray) -> np.ndarray:
    """At most ``MAX_PER_GROUP`` of ``index``, drawn without replacement, in their original order."""
    return np.sort(rng.choice(index, size=min(MAX_PER_GROUP, len(index)), replace=False))


def explorer_payload(
    audit_logits: np.ndarray,
    labels: np.ndarray,
    is_member: np.ndarray,
    test_logits: np.ndarray,
    test_labels: np.ndarray,
    defense: DynaNoise,
    ranges: dict[str, tuple[float, float]],
    budget: float | None,
    seed: int,
) -> dict[str, Any]:
    """The embedded data: the grid's axes, the chosen and the paper's points as indices on them and,
    flattened in ``[sigma0_sq, lam, T]`` order, the numbers at every grid point, computed on records and noise
    drawn from ``seed`` (a secret: derive it from the record key)."""
    rng = np.random.default_rng(seed)
    audit = np.concatenate([_draw(rng, np.flatnonzero(is_member)), _draw(rng, np.flatnonzero(~is_member))])
    test = _draw(rng, np.arange(len(test_logits)))
    chosen = {p: getattr(defense, p) for p in PARAMS}
    axes = grid_axes(ranges, chosen, PAPER_SETTING)
    noise = rng.standard_normal((DRAWS, len(audit) + len(test), audit_logits.shape[1]))
    metrics = grid_metrics(
        audit_logits[audit],
        labels[audit],
        is_member[audit],
        test_logits[test],
        test_labels[test],
        axes,
        noise,
    )
    flat = {name: values.ravel().round(DIGITS) for name, values in metrics.items()}
    position = [axes[p].index(chosen[p]) for p in PARAMS]
    paper = {p: axes[p].index(PAPER_SETTING[p]) for p in PARAMS}
    at = int(np.ravel_multi_index(position, metrics["accuracy"].shape))
    return {
        "params": chosen,
        "axes": axes,
        "chosen": dict(zip(PARAMS, position, strict=True)),
        "paper": paper,
        "budget": budget,
        "draws": DRAWS,
        "sample": {
            "members": int(is_member[audit].sum()),
            "non_members": int((~is_member[audit]).sum()),
            "test": len(test),
        },
        "undefended_accuracy": round(
            float(np.mean(test_logits[test].argmax(axis=1) == test_labels[test])), DIGITS
        ),
        **{name: values.tolist() for name, values in flat.items()},
        "reference": {name: float(values[at]) for name, values in flat.items()},
    }


def budget_cell(drop: float, budget: float) -> str:
    """The explorer's budget cell, as the page writes it: ``yes`` where the drop as shown (to
    :data:`DIGITS` decimals) is within the budget, else ``no (over by x)``."""
    shown = round(drop, DIGITS)
    return "yes" if shown <= budget else f"no (over by {shown - budget:.4f})"

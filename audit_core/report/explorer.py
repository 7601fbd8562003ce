"""The interactive DynaNoise explorer's data and its Python twin.

The report embeds a compact sample of the target's logits (never features) and a script that recomputes,
for any slider setting, DynaNoise's expected accuracy and the threshold-free AUC of the loss and confidence
attacks. Both sides draw the noise from the same counter-based generator (mulberry32 with Box-Muller), so
:func:`explorer_metrics` here and ``explorer.js`` in the page compute the same numbers; a browser test
checks that they do at the chosen parameters.
"""

from typing import Any

import numpy as np
from scipy import stats

from audit_core.defenses import DynaNoise, sensitivity

GOLDEN = 0x6D2B79F5  # mulberry32's increment
DRAWS = 16  # noise draws per record for the set-wide numbers
MAX_RECORDS = 300  # audit records embedded (members and non-members)
MAX_TEST = 300  # test records embedded for the accuracy
DIGITS = 4  # logits are rounded to this many decimals in the page; both sides use the rounded values


def uniforms(seed: int, start: int, count: int) -> np.ndarray:
    """Outputs ``start .. start + count - 1`` of mulberry32 seeded with ``seed``, in [0, 1)."""
    with np.errstate(over="ignore"):
        a = (np.uint64(seed) + (np.arange(start, start + count, dtype=np.uint64) + 1) * np.uint64(GOLDEN)) % (
            1 << 32
        )
        a = a.astype(np.uint32)
        t = (a ^ (a >> np.uint32(15))) * (a | np.uint32(1))
        t = (t + (t ^ (t >> np.uint32(7))) * (t | np.uint32(61))) ^ t
        return (t ^ (t >> np.uint32(14))).astype(np.float64) / 4294967296.0


def normals(seed: int, start: int, count: int) -> np.ndarray:
    """Standard normals ``start ..`` by Box-Muller: normal ``n`` uses uniforms ``2n`` and ``2n + 1``."""
    u = uniforms(seed, 2 * start, 2 * count).reshape(count, 2)
    return np.sqrt(-2.0 * np.log(1.0 - u[:, 0])) * np.cos(2.0 * np.pi * u[:, 1])


def _auc(scores: np.ndarray, is_member: np.ndarray) -> float:
    ranks = stats.rankdata(scores)
    m, n = is_member.sum(), (~is_member).sum()
    return float((ranks[is_member].sum() - m * (m + 1) / 2) / (m * n))


def _defended(logits: np.ndarray, noise: np.ndarray, defense: DynaNoise) -> np.ndarray:
    std = np.sqrt(defense.noise_variance(logits))[:, None]
    noisy = (logits + std * noise) / defense.temperature
    noisy -= noisy.max(axis=1, keepdims=True)
    exp = np.exp(noisy)
    return exp / exp.sum(axis=1, keepdims=True)


def explorer_metrics(
    payload: dict[str, Any], sigma0_sq: float, lam: float, temperature: float
) -> dict[str, float]:
    """Mean over ``DRAWS`` noise draws of test accuracy and of the loss / confidence attack AUCs, exactly as
    the page computes them (draw ``d``'s normals follow the audit records, then the test records)."""
    defense = DynaNoise(sigma0_sq=sigma0_sq, lam=lam, temperature=temperature)
    audit = np.array([r["logits"] for r in payload["records"]], dtype=np.float64)
    labels = np.array([r["label"] for r in payload["records"]])
    is_member = np.array([r["member"] for r in payload["records"]])
    test = np.array(payload["test"]["logits"], dtype=np.float64)
    test_labels = np.array(payload["test"]["labels"])
    k = audit.shape[1]
    per_draw = (len(audit) + len(test)) * k
    accuracy, auc_loss, auc_confidence = [], [], []
    for d in range(payload["draws"]):
        noise = normals(payload["seed"], d * per_draw, per_draw).reshape(-1, k)
        released = _defended(audit, noise[: len(audit)], defense)
        test_released = _defended(test, noise[len(audit) :], defense)
        accuracy.append(np.mean(test_released.argmax(axis=1) == test_labels))
        auc_loss.append(_auc(np.log(released[np.arange(len(labels)), labels]), is_member))
        auc_confidence.append(_auc(released.max(axis=1), is_member))
    return {
        "accuracy": float(np.mean(accuracy)),
        "auc_loss": float(np.mean(auc_loss)),
        "auc_confidence": float(np.mean(auc_confidence)),
    }


def explorer_payload(
    audit_logits: np.ndarray,
    labels: np.ndarray,
    is_member: np.ndarray,
    hashed_ids: np.ndarray,
    exposure: np.ndarray,
    test_logits: np.ndarray,
    test_labels: np.ndarray,
    defense: DynaNoise,
    budget: float | None,
    seed: int,
) -> dict[str, Any]:
    """The embedded data: the most exposed records first (by ``exposure``), logits rounded to ``DIGITS``."""
    order = np.argsort(-exposure, kind="stable")[:MAX_RECORDS]
    test_pick = np.linspace(0, len(test_logits) - 1, min(MAX_TEST, len(test_logits))).astype(int)
    payload = {
        "params": {"sigma0_sq": defense.sigma0_sq, "lam": defense.lam, "temperature": defense.temperature},
        "budget": budget,
        "draws": DRAWS,
        "seed": seed % (1 << 32),
        "records": [
            {
                "id": str(hashed_ids[i]),
                "member": bool(is_member[i]),
                "label": int(labels[i]),
                "logits": np.round(audit_logits[i], DIGITS).tolist(),
            }
            for i in order
        ],
        "test": {
            "logits": np.round(test_logits[test_pick], DIGITS).tolist(),
            "labels": test_labels[test_pick].astype(int).tolist(),
        },
    }
    test = np.array(payload["test"]["logits"])
    payload["undefended_accuracy"] = float(
        np.mean(test.argmax(axis=1) == np.array(payload["test"]["labels"]))
    )
    payload["reference"] = explorer_metrics(payload, defense.sigma0_sq, defense.lam, defense.temperature)
    return payload


def within_budget(drop: float, budget: float) -> str:
    """The explorer's budget cell, as the page writes it: ``yes``, or ``no (over by x)``."""
    return "yes" if drop <= budget else f"no (over by {drop - budget:.4f})"


RECORD_SEED_MASK = 0x5BD1E995  # the per-record summary draws from a second stream, seed ^ this
RECORD_DRAWS = 200


def record_summary(payload: dict[str, Any], index: int) -> dict[str, Any]:
    """For one embedded record at the payload's parameters: its undefended output, H, R, the noise variance
    and the mean and spread of the defended output over 200 draws (as the page shows it)."""
    params = payload["params"]
    defense = DynaNoise(sigma0_sq=params["sigma0_sq"], lam=params["lam"], temperature=params["temperature"])
    record = payload["records"][index]
    logits = np.array([record["logits"]], dtype=np.float64)
    k = logits.shape[1]
    probs = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    noise = normals((payload["seed"] ^ RECORD_SEED_MASK) & 0xFFFFFFFF, 0, RECORD_DRAWS * k).reshape(-1, k)
    released = _defended(np.repeat(logits, RECORD_DRAWS, axis=0), noise, defense)
    r = float(sensitivity(logits)[0])
    return {
        "record": record,
        "probs": probs[0].tolist(),
        "entropy": float(-(probs * np.log(probs + 1e-9)).sum()),
        "sensitivity": r,
        "variance": float(defense.noise_variance(logits)[0]),
        "mean": released.mean(axis=0).tolist(),
        "spread": released.std(axis=0).tolist(),
    }

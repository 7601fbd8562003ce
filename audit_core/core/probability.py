"""Numerically careful conversions between logits and probability vectors, and their summaries."""

from typing import Literal

import numpy as np

OutputKind = Literal["logits", "probabilities"]  # what a model returns per class
LOG_FLOOR = 1e-30  # probabilities below this are treated as this when a logarithm is taken
PROBABILITY_FLOOR = 1e-12  # a model's probabilities are clipped here before their logarithm becomes logits


def probability_logits(probabilities: np.ndarray) -> np.ndarray:
    """A model's probabilities as the logits the audit reads: ``log(max(p, 1e-12))`` in float64 (numpy's
    logarithm, which the deployed defense calls too: on some CPUs torch's differs in the last bit for about
    0.2% of values, which would change keyed noise)."""
    return np.log(np.maximum(np.asarray(probabilities, dtype=np.float64), PROBABILITY_FLOOR))


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise ``softmax(logits / temperature)`` in float64, stable for large logits."""
    scaled = np.asarray(logits, dtype=np.float64) / temperature  # a new array: the steps below work in it
    scaled -= scaled.max(axis=1, keepdims=True)
    np.exp(scaled, out=scaled)
    scaled /= scaled.sum(axis=1, keepdims=True)
    return scaled


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise ``log softmax(logits)`` in float64."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def safe_log(probs: np.ndarray) -> np.ndarray:
    """``log(max(p, 1e-30))``, as in Song & Mittal's reference code."""
    return np.log(np.maximum(probs, LOG_FLOOR))


def true_class_probability(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``p_y`` for each row."""
    return probs[np.arange(len(labels)), labels]


def entropy(probs: np.ndarray) -> np.ndarray:
    """Shannon entropy ``-sum_i p_i log p_i`` per row (natural log)."""
    return -(probs * safe_log(probs)).sum(axis=1)


def modified_entropy(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Song & Mittal's ``Mentr = -(1 - p_y) log p_y - sum_{i != y} p_i log(1 - p_i)`` per row."""
    rows = np.arange(len(labels))
    p_y = probs[rows, labels]
    others = probs * safe_log(1.0 - probs)
    others[rows, labels] = 0.0
    return -(1.0 - p_y) * safe_log(p_y) - others.sum(axis=1)

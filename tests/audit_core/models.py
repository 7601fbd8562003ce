"""Importable model code for the tests: what a user's ``package.module:name`` would point at."""

import time
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from torch import nn


def mlp(n_features: int, n_classes: int, hidden: int = 64) -> nn.Module:
    """A two-layer perceptron, the architecture behind the state-dict tests."""
    return nn.Sequential(nn.Flatten(), nn.Linear(n_features, hidden), nn.ReLU(), nn.Linear(hidden, n_classes))


def softmax_mlp(n_features: int, n_classes: int, hidden: int = 64) -> nn.Module:
    """:func:`mlp` ending in a softmax, as many deployed networks do: it returns probabilities (its state dict
    has :func:`mlp`'s keys, so the same seed draws the same initial weights)."""
    return nn.Sequential(*mlp(n_features, n_classes, hidden), nn.Softmax(dim=1))


def softmax_scores(batch: np.ndarray) -> np.ndarray:
    """A model that returns probabilities (a softmax of fixed scores) where logits are expected."""
    scores = np.asarray(batch, dtype=float)[:, :3]
    scores = np.exp(scores - scores.max(axis=1, keepdims=True))
    return scores / scores.sum(axis=1, keepdims=True)


def text_logits(batch: np.ndarray) -> np.ndarray:
    """A fixed 'text model': three class scores from each text's length, vowels and spaces."""
    texts = [str(row[0]) for row in batch]
    counts = np.array([[len(t), sum(c in "aeiou" for c in t), t.count(" ")] for t in texts], dtype=float)
    return counts @ np.array([[0.1, -0.1, 0.0], [-0.3, 0.5, 0.1], [0.2, 0.0, -0.4]])


def nan_logits(batch: np.ndarray) -> np.ndarray:
    """A broken model: NaN logits for every record."""
    return np.full((len(batch), 3), np.nan)


def failing_factory() -> nn.Module:
    """An architecture factory that fails."""
    raise RuntimeError("cannot build")


def doubled(x: np.ndarray) -> np.ndarray:
    """A user's own preprocessing step (skops does not know it)."""
    return 2 * x


def two_class_logits(batch: np.ndarray) -> np.ndarray:
    """A callable model of two classes: its first two features as logits."""
    return np.asarray(batch, dtype=np.float64)[:, :2]


def late_nan_logits(batch: np.ndarray) -> np.ndarray:
    """A model that breaks only on large batches: the input check's small probe passes, the full query not."""
    logits = np.zeros((len(batch), 3))
    logits[16:] = np.nan
    return logits


def exits(batch: np.ndarray) -> np.ndarray:
    """A model that ends the process as a careless script would: ``sys.exit(0)``."""
    raise SystemExit(0)


def never_answers(batch: np.ndarray) -> np.ndarray:
    """A model that hangs (a lost remote endpoint, a deadlock): sleeps far longer than any test runs."""
    time.sleep(3600)
    raise AssertionError("unreachable")


def classes_by_batch(batch: np.ndarray) -> np.ndarray:
    """A model whose class count changes within one query: three columns, two for a batch of one record."""
    return np.zeros((len(batch), 3 if len(batch) > 1 else 2))


def train_forest(features: np.ndarray, labels: np.ndarray, *, n_classes: int, seed: int) -> object:
    """A user's training function (``references.kind: function``): a random forest with the given seed."""
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(n_estimators=10, random_state=seed).fit(features, labels)


def train_torch_mlp(features: np.ndarray, labels: np.ndarray, *, n_classes: int, seed: int) -> nn.Module:
    """A user's training function returning a torch module (full-batch Adam, 100 steps)."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    module = mlp(features.shape[1], n_classes, hidden=16)
    for parameter in module.parameters():
        with torch.no_grad():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.3)
    optimiser = torch.optim.Adam(module.parameters(), lr=0.02)
    x, y = torch.as_tensor(features), torch.as_tensor(labels, dtype=torch.int64)
    for _ in range(100):
        optimiser.zero_grad()
        nn.functional.cross_entropy(module(x), y).backward()
        optimiser.step()
    return module.eval()


def train_softmax_mlp(features: np.ndarray, labels: np.ndarray, *, n_classes: int, seed: int) -> nn.Module:
    """:func:`train_torch_mlp`'s network with a softmax at its end: a module returning probabilities."""
    return nn.Sequential(train_torch_mlp(features, labels, n_classes=n_classes, seed=seed), nn.Softmax(dim=1))


def train_nothing(features: np.ndarray, labels: np.ndarray, *, n_classes: int, seed: int) -> str:
    """A broken training function: returns something dynaudit cannot query."""
    return "a model"


def float32_logits(batch: np.ndarray) -> np.ndarray:
    """A user's model written to the README's contract: it takes float32 records only (as torch would)."""
    if batch.dtype != np.float32:
        raise TypeError(f"expected float32 records, got {batch.dtype}")
    return batch[:, :3].astype(np.float64)


def train_float32_only(features: np.ndarray, labels: np.ndarray, *, n_classes: int, seed: int) -> object:
    """A user's training function that takes float32 records only and returns :func:`float32_logits`."""
    if features.dtype != np.float32:
        raise TypeError(f"expected float32 records, got {features.dtype}")
    return float32_logits


class TokenMean(nn.Module):
    """A text classifier on token ids: each token's embedding, averaged over the record, then a linear
    layer; it takes int64 indices, not floats."""

    def __init__(self, vocab: int, n_classes: int, dim: int = 16) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.head = nn.Linear(dim, n_classes)

    def forward(self, tokens):
        return self.head(self.embed(tokens).mean(dim=1))


@dataclass
class ClassifierOutput:
    """What a Hugging Face classifier returns: an object holding a ``logits`` tensor, and more."""

    logits: torch.Tensor
    hidden: torch.Tensor


class WrappedOutputs(nn.Module):
    """:func:`mlp`'s layers (its state dict keys under ``body.``), returning its logits inside a
    :class:`ClassifierOutput`, or, with ``as_tuple``, as the first of a tuple."""

    def __init__(self, n_features: int, n_classes: int, as_tuple: bool = False) -> None:
        super().__init__()
        self.body = mlp(n_features, n_classes)
        self.as_tuple = as_tuple

    def forward(self, x):
        logits = self.body(x)
        return (logits, x) if self.as_tuple else ClassifierOutput(logits, x)


def batch_norm_mlp(n_features: int, n_classes: int, hidden: int = 32) -> nn.Module:
    """:func:`mlp` with batch norm after its hidden layer, as many tabular networks have it."""
    return nn.Sequential(
        nn.Linear(n_features, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Linear(hidden, n_classes)
    )


class CentredLogistic(LogisticRegression):
    """A user's own estimator class (outside scikit-learn): logistic regression on centred features."""

    def fit(self, X, y):
        self.centre_ = np.asarray(X).mean(axis=0)
        return super().fit(np.asarray(X) - self.centre_, y)

    def decision_function(self, X):
        return super().decision_function(np.asarray(X) - self.centre_)


class UnnormalisedProbabilities(LogisticRegression):
    """A user's estimator whose ``predict_proba`` rows do not sum to one (scores scaled by 0.9)."""

    def predict_proba(self, X):
        return 0.9 * super().predict_proba(X)

"""Real attack inputs for the attack tests: tiny torch models memorising noisy class blobs."""

import numpy as np
from scipy.special import softmax

from audit_core.attacks import AttackInput, CalibrationData, ReferenceOutputs, ShadowOutputs
from audit_core.config import TrainingRecipe
from audit_core.targets import TorchTarget
from audit_core.training import train_classifier
from audit_core.training.references import complementary_in_masks

SHADOW_RECIPE = TrainingRecipe(hidden_sizes=(128,), epochs=150)
REFERENCE_RECIPE = TrainingRecipe(hidden_sizes=(128,), epochs=100)
N_HALF, N_REFERENCES = 250, 8

Audit = tuple[CalibrationData, AttackInput, np.ndarray]


def blobs(n: int, seed: int, k: int = 10, d: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """Noisy class blobs: learnable, but a small training set is memorised rather than generalised."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(1234).normal(0, 1.0, size=(k, d))
    labels = rng.integers(0, k, size=n)
    return (centres[labels] + rng.normal(0, 3.0, size=(n, d))).astype(np.float32), labels


def answers(model: TorchTarget):
    """Undefended label-only query access to ``model``: ``ask(rows, inputs (b, q, d)) -> labels (b, q)``."""

    def ask(rows: np.ndarray, inputs: np.ndarray, fixed: bool = False) -> np.ndarray:
        flat = inputs.reshape(-1, *inputs.shape[2:])
        return softmax(model.logits(flat), axis=1).argmax(axis=1).reshape(inputs.shape[:2])

    return ask


def released(model: TorchTarget, x: np.ndarray, y: np.ndarray) -> AttackInput:
    """The model's probability vectors on ``x`` with the true labels ``y``, the features and query access."""
    return AttackInput(softmax(model.logits(x), axis=1), y, x, answers(model))


def shadow_audit() -> Audit:
    """A target and a shadow trained like it, each on 100 noisy points; outputs on in and out points."""
    x_in, y_in = blobs(100, seed=1)
    x_out, y_out = blobs(100, seed=2)
    sx_in, sy_in = blobs(100, seed=3)
    sx_out, sy_out = blobs(100, seed=4)
    target = TorchTarget(train_classifier(x_in, y_in, 10, SHADOW_RECIPE, seed=0))
    shadow = TorchTarget(train_classifier(sx_in, sy_in, 10, SHADOW_RECIPE, seed=1))
    halves = np.r_[np.ones(100, bool), np.zeros(100, bool)]
    calibration = CalibrationData(
        shadow=ShadowOutputs(
            released(shadow, np.vstack([sx_in, sx_out]), np.r_[sy_in, sy_out]),
            halves,
        )
    )
    return calibration, released(target, np.vstack([x_in, x_out]), np.r_[y_in, y_out]), halves


def reference_audit() -> Audit:
    """A target memorising 250 noisy points, 250 non-members, 8 reference models on complementary halves."""
    x, y = blobs(2 * N_HALF, seed=1)
    population_x, population_y = blobs(300, seed=2)
    is_member = np.arange(2 * N_HALF) < N_HALF
    target = TorchTarget(train_classifier(x[is_member], y[is_member], 10, REFERENCE_RECIPE, seed=0))
    in_mask = complementary_in_masks(2 * N_HALF, N_REFERENCES, np.random.default_rng(5))
    references = [
        TorchTarget(train_classifier(x[m], y[m], 10, REFERENCE_RECIPE, seed=10 + i))
        for i, m in enumerate(in_mask)
    ]
    calibration = CalibrationData(
        references=ReferenceOutputs(
            audit=np.stack([released(r, x, y).probs for r in references]),
            labels=y,
            in_mask=in_mask,
            population=np.stack([released(r, population_x, population_y).probs for r in references]),
            population_labels=population_y,
        ),
        target_population=released(target, population_x, population_y),
    )
    return calibration, released(target, x, y), is_member

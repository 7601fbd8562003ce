"""The label-only query attacks against independent computations on a linear model with known geometry."""

import numpy as np

from audit_core.attacks import AttackInput, AugmentationAttack, BoundaryAttack, CalibrationData, ShadowOutputs
from audit_core.attacks.augmentation import image_augmentations, shifted

W = np.array([1.0, -2.0, 0.5])


def linear_probs(inputs: np.ndarray) -> np.ndarray:
    """Two classes: class 1 exactly when ``w . x > 0``; probabilities ``(..., 2)``."""
    p1 = 1.0 / (1.0 + np.exp(-(inputs @ W)))
    return np.stack([1.0 - p1, p1], axis=-1)


def linear_ask(rows: np.ndarray, inputs: np.ndarray) -> np.ndarray:
    """The released labels ``(b, q)``."""
    return linear_probs(inputs).argmax(axis=-1)


def records(n: int, seed: int) -> AttackInput:
    features = np.random.default_rng(seed).normal(size=(n, 3))
    labels = (features @ W > 0).astype(int)  # every record correctly classified
    return AttackInput(linear_probs(features), labels, features, linear_ask)


def fitted(attack):
    shadow = records(40, seed=1)
    return attack.fit(CalibrationData(shadow=ShadowOutputs(shadow, np.arange(40) < 20)))


def test_boundary_distance_is_the_bisected_step_to_the_hyperplane():
    """Along direction ``s``, the label flips at ``r* = -(w . x) / (w . s)`` when that is positive; bisection
    with 15 steps in [0, 2] finds it within 2 / 2^16, and directions that never flip count 2."""
    attack = fitted(BoundaryAttack(max_queries=64, directions=4, max_radius=2.0, seed=3))
    audit = records(30, seed=2)
    steps = attack.scale_ * np.random.default_rng(3).standard_normal((30, 4, 3))
    with np.errstate(divide="ignore"):
        r_star = -(audit.features @ W)[:, None] / (steps @ W)
    expected = np.where((r_star > 0) & (r_star <= 2.0), r_star, 2.0).mean(axis=1)
    np.testing.assert_allclose(attack.score(audit), expected, atol=2.0 / 2**16)


def test_augmentation_score_is_the_fraction_of_perturbed_queries_keeping_the_label():
    attack = fitted(AugmentationAttack(n_augmentations=8, noise=0.5, seed=4))
    audit = records(30, seed=2)
    moved = audit.features[:, None] + 0.5 * attack.scale_ * np.random.default_rng(4).standard_normal(
        (30, 8, 3)
    )
    kept = ((moved @ W > 0).astype(int) == audit.labels[:, None]).sum(axis=1)
    np.testing.assert_allclose(attack.score(audit), (kept + 1) / 9)


def test_images_are_flipped_and_shifted_with_zero_padding():
    image = np.arange(9.0).reshape(1, 1, 3, 3)
    assert shifted(image, 1, 0)[0, 0].tolist() == [[0, 0, 0], [0, 1, 2], [3, 4, 5]]
    assert shifted(image, 0, -1)[0, 0].tolist() == [[1, 2, 0], [4, 5, 0], [7, 8, 0]]
    variants = image_augmentations(image, max_shift=1)
    assert variants.shape == (1, 17, 1, 3, 3)  # 2 flips x 9 shifts, less the identity
    assert any(np.array_equal(v, image[0, :, :, ::-1]) for v in variants[0])
    assert AugmentationAttack(max_shift=1).queries_per_record((1, 3, 3)) == 17

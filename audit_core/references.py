"""Reference and shadow models: who trains on what, and training them through the model cache."""

import numpy as np

from audit_core.config import TrainingRecipe
from audit_core.data import Split
from audit_core.seeding import derive_seed
from audit_core.targets import TorchTarget
from audit_core.training import build_model, train_classifier
from audit_core.training.cache import ModelCache, cache_key


def complementary_in_masks(n_points: int, n_models: int, rng: np.random.Generator) -> np.ndarray:
    """IN/OUT masks ``(n_models, n_points)`` in complementary pairs: models ``2j`` and ``2j + 1`` split a
    fresh random permutation of the points in half, so every point is IN for exactly half of the models."""
    if n_models % 2:
        raise ValueError(f"reference models come in complementary pairs; got an odd count {n_models}.")
    masks = np.zeros((n_models, n_points), dtype=bool)
    for pair in range(n_models // 2):
        order = rng.permutation(n_points)
        masks[2 * pair, order[: n_points // 2]] = True
        masks[2 * pair + 1, order[n_points // 2 :]] = True
    return masks


def train_models(
    training_sets: list[Split],
    *,
    role: str,
    n_classes: int,
    recipe: TrainingRecipe,
    seed: int,
    fingerprints: dict[str, str],
    cache: ModelCache,
) -> list[TorchTarget]:
    """Train (or load from ``cache``) one model per training set, each with its own derived seed."""
    models = []
    for index, split in enumerate(training_sets):
        model_seed = derive_seed(seed, role, str(index))
        key = cache_key(
            {
                **fingerprints,
                "recipe": recipe.model_dump(mode="json"),
                "role": role,
                "index": index,
                "seed": model_seed,
                "training_ids": cache_key({"ids": split.ids.tolist()}),
            }
        )
        n_features = split.features.shape[1]
        module = cache.get_or_train(
            key,
            train=lambda s=split, ms=model_seed: train_classifier(
                s.features, s.labels, n_classes, recipe, seed=ms
            ),
            blank=lambda nf=n_features: build_model(recipe, nf, n_classes),
        )
        models.append(TorchTarget(module))
    return models

"""The small CNN the paper-protocol benchmark trains on CIFAR-10 and ImageNet-10 images."""

import numpy as np
import pytest
import torch

from audit_core.config import TrainingRecipe
from audit_core.core.errors import ConfigError
from audit_core.data import Split
from audit_core.training import build_model
from audit_core.training.cache import ModelCache
from audit_core.training.kinds import RecipeModels
from audit_core.training.references import train_models
from tests.audit_core.byo import class_images

CNN = TrainingRecipe(architecture="audit_core.training.architectures:small_cnn", epochs=3, batch_size=16)


def _images(n: int, seed: int, size: int = 8) -> Split:
    images, labels = class_images(n, seed, size=size)
    features = (images.transpose(0, 3, 1, 2) / 255.0).astype(np.float32)
    return Split(features, labels.astype(np.int64), np.array([f"{seed}:{i}" for i in range(n)]))


def test_images_and_flattened_records_give_the_same_logits():
    model = build_model(CNN, n_features=3 * 12 * 12, n_classes=3, seed=0).eval()
    images = torch.rand(5, 3, 12, 12)
    with torch.no_grad():
        torch.testing.assert_close(model(images), model(images.flatten(1)))
    assert model(images).shape == (5, 3)


@pytest.mark.parametrize("n_features", [64, 3 * 3 * 3, 3 * 32 * 32 + 1])
def test_records_that_are_not_square_colour_images_are_a_config_error(n_features):
    with pytest.raises(ConfigError, match=r"small_cnn needs square images of 3 channels"):
        build_model(CNN, n_features=n_features, n_classes=3, seed=0)


def test_batched_training_matches_training_one_at_a_time():
    sets = [_images(24, seed) for seed in range(3)]
    pool = Split(
        *(np.concatenate([getattr(s, part) for s in sets]) for part in ("features", "labels", "ids"))
    )
    one_set_each = np.repeat(np.eye(3, dtype=bool), 24, axis=1)  # model i trains on the records of set i
    trained = {
        trainer: train_models(
            pool,
            one_set_each,
            role="reference",
            models=RecipeModels(CNN, 3, pool.width, trainer),
            seed=0,
            data_fingerprint="",
            cache=ModelCache(None),
        )
        for trainer in ("batched", "loop")
    }
    for batched, loop in zip(trained["batched"], trained["loop"], strict=True):
        for a, b in zip(batched.module.parameters(), loop.module.parameters(), strict=True):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    first, second = (m.module.state_dict()["classifier.3.weight"] for m in trained["loop"][:2])
    assert not torch.equal(first, second), "each model has its own seed and training set"


def test_it_learns_colour_classes():
    train, test = _images(60, 0), _images(60, 1)
    recipe = CNN.model_copy(update={"epochs": 30, "optimizer": "sgd", "learning_rate": 0.05})
    model = train_models(
        train,
        np.ones((1, len(train)), dtype=bool),
        role="t",
        models=RecipeModels(recipe, 3, train.width),
        seed=0,
        data_fingerprint="",
        cache=ModelCache(None),
    )[0]
    accuracy = (model.query(test).argmax(axis=1) == test.labels).mean()
    assert accuracy > 0.8  # colours are separable; chance is 1/3

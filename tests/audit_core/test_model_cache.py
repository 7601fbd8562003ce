import os
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio
import torch
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from audit_core.audit import models as audit_models
from audit_core.audit.inputs import load_audit_data
from audit_core.config import AuditConfig, CloneModelsConfig, SklearnTargetConfig, TrainingRecipe
from audit_core.core.errors import ConfigError
from audit_core.core.files import sha256_file
from audit_core.training import build_model
from audit_core.training.cache import CacheEntryWarning, ModelCache
from audit_core.training.kinds import CloneModels, FunctionModels
from audit_core.training.references import train_group
from tests.audit_core import models as models_module


def _config(tmp_path, **recipe):
    return AuditConfig(
        cache_dir=tmp_path / "cache",
        reference_models=4,
        recipe={"epochs": 5, "hidden_sizes": [16], **recipe},
        data={"n_members": 40, "n_non_members": 40, "n_population": 100},
    )


def _trained(config):
    """The model counts, the shadow and reference models, and the audit data they were trained on."""
    data = load_audit_data(config)
    fingerprints = {"data": data.fingerprint(), "target": "t" * 64}
    cache = audit_models.model_cache(config)
    shadow_in, _ = audit_models.split_shadow_data(config, data)
    shadows = audit_models.train_shadows(config, data, shadow_in, fingerprints, cache)
    references, _, counts = audit_models.train_references(config, data, fingerprints)
    totals = {kind: cache.counts()[kind] + counts[kind] for kind in counts}
    return totals, shadows + references, data


def _train_all(config):
    totals, models, _ = _trained(config)
    return totals, [m.fingerprint() for m in models]


def test_a_second_run_trains_nothing_and_reuses_identical_models(tmp_path):
    first, weights = _train_all(_config(tmp_path))
    assert first == {"trained": 5, "reused": 0}
    second, reused_weights = _train_all(_config(tmp_path))
    assert second == {"trained": 0, "reused": 5}
    assert reused_weights == weights


def test_a_changed_recipe_retrains_everything(tmp_path):
    _train_all(_config(tmp_path))
    changed, _ = _train_all(_config(tmp_path, learning_rate=0.01))
    assert changed == {"trained": 5, "reused": 0}


def test_an_interrupted_run_resumes_with_the_models_it_finished(tmp_path):
    _, weights = _train_all(_config(tmp_path))
    models = sorted((tmp_path / "cache" / "models").glob("*.safetensors"))
    for lost in models[:2]:  # as if the run died before writing these
        lost.unlink()
    (tmp_path / "cache" / "models" / "half-written.123.partial").write_bytes(b"\x00" * 10)
    resumed, resumed_weights = _train_all(_config(tmp_path))
    assert resumed == {"trained": 2, "reused": 3}
    assert resumed_weights == weights


def _zero_the_weights(path):
    """Keep the safetensors header (and its checksum), overwrite every weight with zeros."""
    data = path.read_bytes()
    header_end = 8 + int.from_bytes(data[:8], "little")
    path.write_bytes(data[:header_end] + bytes(len(data) - header_end))


def test_truncated_zeroed_and_foreign_entries_are_retrained_with_a_warning_naming_them(tmp_path):
    _, weights = _train_all(_config(tmp_path))
    entries = sorted((tmp_path / "cache" / "models").glob("*.safetensors"))
    truncated, zeroed, foreign, emptied = entries[:4]
    truncated.write_bytes(truncated.read_bytes()[: truncated.stat().st_size // 2])
    _zero_the_weights(zeroed)
    foreign.write_bytes(entries[4].read_bytes())  # another model's entry under this name
    emptied.write_bytes(bytes(emptied.stat().st_size))  # a file of zeros, header included
    with pytest.warns(CacheEntryWarning) as caught:
        counts, retrained = _train_all(_config(tmp_path))
    assert counts == {"trained": 4, "reused": 1}
    assert retrained == weights
    messages = sorted(str(w.message) for w in caught)
    assert len(messages) == 4
    assert any(f"'{truncated}' cannot be read" in m for m in messages)
    assert any(f"'{emptied}' cannot be read" in m for m in messages)
    assert any(f"'{zeroed}' holds weights that do not match their checksum" in m for m in messages)
    assert any(f"'{foreign}' belongs to another model" in m for m in messages)
    assert all(m.endswith("; retraining it.") for m in messages)
    again, _ = _train_all(_config(tmp_path))
    assert again == {"trained": 0, "reused": 5}, "the retrained entries were written back"


def test_a_full_disk_names_the_cache_folder_and_leaves_no_partial_file(tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    cache = ModelCache(folder)
    partial = folder / f".k.safetensors.{os.getpid()}.partial"
    partial.symlink_to("/dev/full")  # every write to it fails with ENOSPC, as on a full disk
    with pytest.raises(ConfigError, match=rf"model cache folder '{folder}' \(No space left on device\)"):
        cache.store("k", torch.nn.Linear(3, 2))
    assert list(folder.iterdir()) == []
    cache.store("k", torch.nn.Linear(3, 2))  # space again: the entry is written whole
    assert [p.name for p in folder.iterdir()] == ["k.safetensors"]
    assert isinstance(cache.load("k", lambda: torch.nn.Linear(3, 2)), torch.nn.Linear)


def test_training_is_reproducible_without_a_cache(tmp_path):
    config = _config(tmp_path).model_copy(update={"cache_dir": None})
    _, first = _train_all(config)
    _, second = _train_all(config)
    assert first == second
    assert len(set(first)) == len(first), "each model has its own seed and training set"


def tiny_net(n_features: int, n_classes: int) -> torch.nn.Module:
    """A user-supplied architecture factory, named in a recipe as ``module:function``."""
    return torch.nn.Sequential(torch.nn.Linear(n_features, 7), torch.nn.Tanh(), torch.nn.Linear(7, n_classes))


def test_recipes_with_sgd_and_a_factory_train_and_key_the_cache_separately(tmp_path):
    _, adam = _train_all(_config(tmp_path))
    sgd_cache, sgd = _train_all(_config(tmp_path, optimizer="sgd", learning_rate=0.05))
    factory_cache, factory = _train_all(_config(tmp_path, architecture=f"{__name__}:tiny_net"))
    assert sgd_cache["trained"] == 5 and factory_cache["trained"] == 5
    assert len({*adam, *sgd, *factory}) == 15
    model = build_model(
        TrainingRecipe(architecture=f"{__name__}:tiny_net"), n_features=64, n_classes=10, seed=0
    )
    assert [p.shape for p in model.parameters() if p.ndim == 2] == [(7, 64), (10, 7)]


def test_an_unimportable_factory_is_a_config_error():
    with pytest.raises(
        ConfigError, match=r"recipe\.architecture: module 'nowhere\.module' cannot be imported"
    ):
        build_model(TrainingRecipe(architecture="nowhere.module:net"), n_features=3, n_classes=2, seed=0)


# A user architecture trains batched by ``vmap``, whose products sum in another order than the module's, so
# where the BLAS (MKL with AVX-512, for one) rounds them differently the weights differ in the last float32
# bits: after these tests' ten Adam steps by up to 1.5e-8 in weights and 1.2e-7 in logits. 1e-6 leaves a
# margin of 8x or more, yet a different seed, batch order or gradient moves them by ~1e-3 (the learning rate).
ROUNDING = 1e-6


def _batched_and_loop(config):
    _, batched, data = _trained(config.model_copy(update={"cache_dir": None, "trainer": "batched"}))
    _, loop, _ = _trained(config.model_copy(update={"cache_dir": None, "trainer": "loop"}))
    first, second = (models.module.state_dict() for models in (batched[0], loop[1]))
    assert not torch.equal(first["0.weight"], second["0.weight"]), "distinct models"
    return batched, loop, data.population.features


def test_batched_training_gives_the_loops_models_bit_for_bit(tmp_path):
    batched, loop, _ = _batched_and_loop(_config(tmp_path))
    for b, lp in zip(batched, loop, strict=True):
        loop_weights = lp.module.state_dict()
        for name, weight in b.module.state_dict().items():
            assert torch.equal(weight, loop_weights[name]), name


def test_batched_training_of_a_user_architecture_matches_the_loop(tmp_path):
    batched, loop, x = _batched_and_loop(_config(tmp_path, architecture=f"{__name__}:tiny_net"))
    for b, lp in zip(batched, loop, strict=True):
        loop_weights = lp.module.state_dict()
        for name, weight in b.module.state_dict().items():
            torch.testing.assert_close(weight, loop_weights[name], rtol=0, atol=ROUNDING, msg=name)
        np.testing.assert_allclose(b.logits(x), lp.logits(x), rtol=0, atol=ROUNDING)


@pytest.mark.slow  # spawning workers that import torch takes tens of seconds on 2 cores
def test_process_parallel_training_gives_the_same_models(tmp_path):
    config = _config(tmp_path).model_copy(update={"cache_dir": None})
    _, processes = _train_all(config.model_copy(update={"trainer": "processes"}))
    _, loop = _train_all(config.model_copy(update={"trainer": "loop"}))
    assert processes == loop


def test_the_cached_models_and_then_each_finished_one_are_reported_to_the_callback(tmp_path):
    config = _config(tmp_path).model_copy(update={"trainer": "loop"})
    data = load_audit_data(config)
    fingerprints = {"data": "d", "target": "t"}
    first, second = [], []
    audit_models.train_references(config, data, fingerprints, on_model_done=lambda *c: first.append(c))
    audit_models.train_references(config, data, fingerprints, on_model_done=lambda *c: second.append(c))
    assert first == [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)]
    assert second == [(4, 4)], "the second run finds every model in the cache"


def test_a_parallel_runner_gets_a_group_per_slot_and_may_finish_them_in_any_order(tmp_path):
    config = _config(tmp_path).model_copy(update={"cache_dir": None})
    data = load_audit_data(config)
    fingerprints = {"data": data.fingerprint(), "target": "t" * 64}
    planned = []

    def two_slots_last_group_first(groups_for):
        groups = groups_for(2)
        planned.extend(group.indices for group in groups)
        for group in reversed(groups):
            yield group, train_group(group)

    parallel, _, counts = audit_models.train_references(
        config, data, fingerprints, run_groups=two_slots_last_group_first
    )
    here, _, _ = audit_models.train_references(config, data, fingerprints)
    assert planned == [(0, 1), (2, 3)]
    assert [m.fingerprint() for m in parallel] == [m.fingerprint() for m in here]
    assert counts == {"trained": 4, "reused": 0}


def test_a_new_checkpoint_of_the_target_reuses_every_reference_model(tmp_path):
    config = _config(tmp_path)
    data = load_audit_data(config)
    first = audit_models.train_references(config, data, {"data": data.fingerprint(), "target": "a" * 64})
    nightly = audit_models.train_references(config, data, {"data": data.fingerprint(), "target": "b" * 64})
    assert first[2] == {"trained": 4, "reused": 0} and nightly[2] == {"trained": 0, "reused": 4}


def test_clone_keys_cover_the_estimator_and_its_parameters_not_its_fitted_state():
    x, y = np.random.default_rng(0).normal(size=(40, 3)), np.arange(40) % 2
    unfitted = RandomForestClassifier(n_estimators=10, max_depth=3)
    fitted = RandomForestClassifier(n_estimators=10, max_depth=3).fit(x, y)
    assert CloneModels(unfitted, 2).key() == CloneModels(fitted, 2).key()
    assert (
        CloneModels(unfitted, 2).key()
        != CloneModels(RandomForestClassifier(n_estimators=11, max_depth=3), 2).key()
    )
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(C=1.0))
    assert (
        CloneModels(pipeline, 2).key()
        != CloneModels(make_pipeline(StandardScaler(), LogisticRegression(C=2.0)), 2).key()
    )


def test_function_keys_cover_the_functions_source_file():
    key = FunctionModels("tests.audit_core.models:train_forest", 3).key()
    assert key["source"] == sha256_file(Path(models_module.__file__))


def test_clones_are_cached_as_skops_files_and_reused_identically(tmp_path):
    data = load_audit_data(_config(tmp_path))
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(
        data.members.features, data.members.labels
    )
    sio.dump(forest, tmp_path / "forest.skops")
    config = _config(tmp_path).model_copy(
        update={
            "target": SklearnTargetConfig(path=tmp_path / "forest.skops"),
            "references": CloneModelsConfig(),
        }
    )
    fingerprints = {"data": data.fingerprint()}
    trained, _, first = audit_models.train_references(config, data, fingerprints)
    reused, _, second = audit_models.train_references(config, data, fingerprints)
    assert first == {"trained": 4, "reused": 0} and second == {"trained": 0, "reused": 4}
    assert len(list((tmp_path / "cache" / "models").glob("*.skops"))) == 4
    points = data.audit_points()
    for a, b in zip(trained, reused, strict=True):
        np.testing.assert_array_equal(a.query(points), b.query(points))
    assert not np.array_equal(trained[0].query(points), trained[1].query(points)), "each clone its own half"


def test_the_shadow_trains_on_one_half_of_the_population_and_is_tested_on_the_other():
    config = AuditConfig(data={"n_members": 200, "n_non_members": 200, "n_population": 101})
    data = load_audit_data(config)
    shadow_in, shadow_out = audit_models.split_shadow_data(config, data)
    assert (len(shadow_in), len(shadow_out)) == (50, 51)  # not sized by the 200 members: halves of 101
    assert sorted([*shadow_in.ids, *shadow_out.ids]) == sorted(data.population.ids)


def test_the_trained_target_is_cached_identical_and_retrained_when_its_recipe_changes(tmp_path, monkeypatch):
    config = _config(tmp_path)
    data = load_audit_data(config)
    trained = audit_models.train_target(config, data)
    uncached = audit_models.train_target(config.model_copy(update={"cache_dir": None}), data)
    assert trained.fingerprint() == uncached.fingerprint()

    def no_training(*args, **kwargs):
        raise AssertionError("the cached target was trained again")

    with monkeypatch.context() as patched:
        patched.setattr(audit_models, "train_classifier", no_training)
        reused = audit_models.train_target(config, data)
    assert reused.fingerprint() == trained.fingerprint()
    assert np.array_equal(reused.query(data.test), trained.query(data.test))
    changed = audit_models.train_target(_config(tmp_path, epochs=6), data)
    assert changed.fingerprint() != trained.fingerprint()

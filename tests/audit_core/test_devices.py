"""The ``device`` setting: cuda without a GPU is refused with one sentence; auto on a CPU machine trains and
queries on the CPU with the numbers of ``device: cpu``; on a GPU, the models agree with the CPU's."""

import numpy as np
import pytest
import torch
import yaml

from audit_core.audit.run import run_audit
from audit_core.config import TrainingRecipe, parse_config
from audit_core.core.devices import resolve_device
from audit_core.core.errors import ConfigError
from audit_core.training.batched import train_classifiers_batched
from audit_core.training.torch_trainer import train_classifier
from flows.cli import main

HAS_GPU = torch.cuda.is_available()
TINY = {
    "recipe": {"epochs": 10},
    "data": {"n_members": 60, "n_non_members": 60, "n_population": 160},
    "reference_models": 4,
    "attacks": ["loss", "lira_offline"],
    "knowledge": ["naive"],
    "max_queries": 1,
    "cache_dir": None,
}


@pytest.mark.skipif(HAS_GPU, reason="this machine has a GPU")
def test_cuda_without_a_gpu_is_refused_with_one_sentence(tmp_path, monkeypatch, capsys):
    with pytest.raises(ConfigError) as refused:
        parse_config({"device": "cuda"})
    assert str(refused.value) == (
        "config: field 'device' = 'cuda' is invalid: torch sees no GPU on this machine; use auto (a GPU when "
        "there is one) or cpu."
    )
    monkeypatch.chdir(tmp_path)
    (tmp_path / "gpu.yaml").write_text(yaml.safe_dump({**TINY, "device": "cuda"}))
    assert main(["audit", "gpu.yaml"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert [p.name for p in tmp_path.iterdir()] == ["gpu.yaml"], "nothing written"


@pytest.mark.skipif(HAS_GPU, reason="this machine has a GPU")
def test_auto_on_the_cpu_gives_the_numbers_of_cpu_and_the_manifest_says_so():
    assert resolve_device("auto") == "cpu"
    same_ids = {**TINY, "id_salt": "device-test-key"}  # record ids alike in both runs
    on_auto = run_audit(parse_config({**same_ids, "device": "auto"}))
    on_cpu = run_audit(parse_config({**same_ids, "device": "cpu"}))
    assert on_auto.result.provenance["device"] == "cpu"
    auto_metrics, cpu_metrics = on_auto.result.metrics_table(), on_cpu.result.metrics_table()
    assert len(auto_metrics) > 0
    assert auto_metrics.equals(cpu_metrics)
    assert on_auto.result.scores_table().equals(on_cpu.result.scores_table())


def _weights(model: torch.nn.Module) -> np.ndarray:
    return torch.cat([p.detach().flatten() for p in model.parameters()]).numpy()


@pytest.mark.skipif(not HAS_GPU, reason="needs a GPU")
def test_models_trained_on_the_gpu_match_the_cpu_ones_up_to_float32_rounding():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(2, 64, 16)).astype(np.float32)
    labels = rng.integers(0, 3, size=(2, 64))
    recipe = TrainingRecipe(epochs=5)
    sets = list(zip(features, labels, strict=True))
    for device in ("cpu", "cuda"):
        assert next(train_classifier(*sets[0], 3, recipe, seed=1, device=device).parameters()).is_cpu
    cpu = train_classifiers_batched(sets, 3, recipe, seeds=[1, 2], device="cpu")
    gpu = train_classifiers_batched(sets, 3, recipe, seeds=[1, 2], device="cuda")
    for a, b in zip(cpu, gpu, strict=True):
        np.testing.assert_allclose(_weights(a), _weights(b), atol=1e-4)
    loop = train_classifier(*sets[1], 3, recipe, seed=2, device="cuda")
    np.testing.assert_allclose(_weights(loop), _weights(cpu[1]), atol=1e-4)

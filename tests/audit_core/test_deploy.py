"""The deployable form: wrapper, TorchScript export and the versioned parameters file."""

import json
import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression
from sklearn.svm import LinearSVC
from torch import nn

from audit_core.core.errors import ConfigError
from audit_core.defenses import DynaNoise
from audit_core.defenses.serving import (
    PARAMS_SCHEMA_VERSION,
    DefendedModel,
    export_torchscript,
    load_params,
    load_torchscript,
    save_params,
)
from audit_core.targets import TorchTarget
from audit_core.targets.defended import DefendedClassifier
from audit_core.targets.sklearn import SklearnTarget
from tests.audit_core.models import ClassifierOutput

KEY = b"deployment key, 32 bytes long..."


@pytest.fixture(scope="module")
def model() -> nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 4)).eval()


@pytest.fixture(scope="module")
def inputs() -> torch.Tensor:
    return torch.randn(50, 6, generator=torch.Generator().manual_seed(1)) * 3


def test_wrapper_equals_dynanoise_apply_exactly_in_per_input_mode(model, inputs, tmp_path):
    defense = DynaNoise(sigma0_sq=0.2, lam=1.5, temperature=4.0, noise_mode="per_input", key=KEY)
    expected = defense.apply(TorchTarget(model).logits(inputs.numpy()), np.random.default_rng(0))
    wrapped = DefendedModel(model, defense)
    with torch.no_grad():
        np.testing.assert_allclose(wrapped(inputs).numpy(), expected, rtol=0, atol=1e-14)
        exported = load_torchscript(export_torchscript(wrapped, tmp_path / "defended.pt"), key=KEY)
        np.testing.assert_allclose(exported(inputs).numpy(), expected, rtol=0, atol=1e-14)
        np.testing.assert_array_equal(exported(inputs).numpy(), exported(inputs).numpy())


class _WithOutputObject(nn.Module):
    """``model`` answering as a Hugging Face classifier does: an object holding its logits."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x):
        return ClassifierOutput(self.model(x), x)


def test_a_network_returning_an_output_object_is_defended_by_its_logits(model, inputs):
    """Run in Python (such networks rarely compile to TorchScript), the wrapper defends the ``logits`` of a
    Hugging Face style output object, exactly as the audit read them."""
    defense = DynaNoise(sigma0_sq=0.2, lam=1.5, temperature=4.0, noise_mode="per_input", key=KEY)
    network = _WithOutputObject(model).eval()
    expected = defense.apply(TorchTarget(network).logits(inputs.numpy()), np.random.default_rng(0))
    with torch.no_grad():
        defended = DefendedModel(network, defense)(inputs).numpy()
    np.testing.assert_allclose(defended, expected, rtol=0, atol=1e-14)


def test_a_network_ending_in_a_softmax_is_defended_as_the_audit_evaluated_it(model, inputs, tmp_path):
    """Declared as the audit's ``output: probabilities``: per_input noise on the logits the audit read, number
    for number (on some CPUs torch's logarithm differs from numpy's in the last bit, on about 0.2% of these
    rows on an AMD EPYC, and a hash of other bytes is other noise; on others they agree); per_query answers
    from the same logits, so a shared generator gives the same answers as from the network without its
    softmax."""
    softmax_network = nn.Sequential(model, nn.Softmax(dim=1)).eval()
    many = torch.randn(2000, 6, generator=torch.Generator().manual_seed(2)) * 3
    audited_logits = TorchTarget(softmax_network, output="probabilities").logits(many.numpy())
    defense = DynaNoise(sigma0_sq=0.2, lam=1.5, temperature=4.0, noise_mode="per_input", key=KEY)
    expected = defense.apply(audited_logits, np.random.default_rng(0))
    wrapped = DefendedModel(softmax_network, defense, output="probabilities")
    with torch.no_grad():
        np.testing.assert_allclose(wrapped(many).numpy(), expected, rtol=0, atol=1e-14)
        exported = load_torchscript(export_torchscript(wrapped, tmp_path / "defended.pt"), key=KEY)
        np.testing.assert_allclose(exported(many).numpy(), expected, rtol=0, atol=1e-14)
        noised_probabilities = DefendedModel(softmax_network, defense)(many).numpy()
    assert np.abs(noised_probabilities - expected).max() > 0.1, "noise on probabilities: another defense"
    per_query = DynaNoise(sigma0_sq=0.2, lam=1.5, temperature=4.0)
    with torch.no_grad():
        through_softmax = DefendedModel(softmax_network, per_query, output="probabilities")(
            inputs, torch.Generator().manual_seed(3)
        )
        without_softmax = DefendedModel(model, per_query)(inputs, torch.Generator().manual_seed(3))
    np.testing.assert_allclose(through_softmax.numpy(), without_softmax.numpy(), rtol=0, atol=1e-6)


def test_the_exported_file_and_the_state_dict_never_hold_the_key(model, inputs, tmp_path):
    wrapped = DefendedModel(model, DynaNoise(noise_mode="per_input", key=KEY))
    path = export_torchscript(wrapped, tmp_path / "defended.pt")
    assert KEY not in path.read_bytes() and KEY in b"".join(
        wrapped.defense.key.numpy().tobytes() for _ in [0]
    )
    assert not any(name.endswith("key") for name in wrapped.state_dict())
    for key in (b"", KEY[:15]):
        with pytest.raises(
            ConfigError, match="uses per_input DynaNoise, whose key is never exported; pass key="
        ):
            load_torchscript(path, key=key)
    other = load_torchscript(path, key=KEY[::-1])
    with torch.no_grad():
        assert not torch.equal(other(inputs), wrapped(inputs)), "the key decides the noise"
        assert torch.equal(load_torchscript(path, key=KEY)(inputs), wrapped(inputs))


def test_exported_per_query_wrapper_matches_apply_in_distribution(model, tmp_path):
    """One input queried 5,000 times: a two-sample KS test per class at a family-wise level of 0.1%."""
    draws = 5_000
    defense = DynaNoise(sigma0_sq=0.5, lam=2.0, temperature=3.0)
    x = torch.full((draws, 6), 0.7)
    reference = defense.apply(TorchTarget(model).logits(x.numpy()), np.random.default_rng(0))
    exported = load_torchscript(export_torchscript(DefendedModel(model, defense), tmp_path / "m.pt"))
    with torch.no_grad():
        released = exported(x, torch.Generator().manual_seed(1)).numpy()
        again = exported(x, torch.Generator().manual_seed(1)).numpy()
    assert np.array_equal(released, again), "a seeded generator reproduces the answers"
    critical = stats.kstwobign.isf(1e-3 / 4) * np.sqrt(2 / draws)
    for column in range(4):
        assert stats.ks_2samp(reference[:, column], released[:, column]).statistic < critical


def test_params_file_round_trips_without_the_key(tmp_path):
    defense = DynaNoise(sigma0_sq=0.12, lam=3.5, temperature=7.3, noise_mode="per_input", key=KEY)
    path = save_params(tmp_path / "dynanoise-params.json", defense, {"objective": "midput"})
    document = json.loads(path.read_text())
    assert document["schema_version"] == PARAMS_SCHEMA_VERSION
    assert document["provenance"] == {"objective": "midput"}
    assert KEY.decode() not in path.read_text()
    assert load_params(path, key=KEY) == defense
    assert not list(tmp_path.glob(".*")), "no temporary file is left behind"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not valid JSON"),
        ('{"schema": "other"}', "is not a dynaudit DynaNoise parameters file"),
        ('{"schema": "dynaudit/dynanoise-params", "schema_version": 99}', "has schema_version 99"),
        ('{"schema": "dynaudit/dynanoise-params", "schema_version": 1, "params": {}}', "exactly the keys"),
    ],
)
def test_bad_params_files_are_refused_with_one_sentence(tmp_path, content, message):
    path = tmp_path / "p.json"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        load_params(path)


def test_per_input_params_need_the_key(tmp_path):
    path = save_params(tmp_path / "p.json", DynaNoise(noise_mode="per_input", key=KEY))
    with pytest.raises(ConfigError, match="at least 16 bytes"):
        load_params(path)


def _classifiers() -> dict[str, tuple[object, object]]:
    """Fitted scikit-learn classifiers and the records each takes: a forest fitted on a data frame with
    class names, and a binary linear SVM, which has decision_function's one margin and no predict_proba."""
    x, y = make_classification(n_samples=120, n_features=5, n_informative=4, n_redundant=0, random_state=0)
    frame = pd.DataFrame(x, columns=[f"c{i}" for i in range(5)])
    names = np.array(["no", "yes"])[y]
    forest = RandomForestClassifier(n_estimators=20, random_state=0).fit(frame, names)
    return {"forest": (forest, frame), "svm": (LinearSVC().fit(x, y), x)}


@pytest.mark.parametrize("name", ["forest", "svm"])
def test_a_defended_scikit_learn_classifier_answers_what_the_audit_evaluated(name):
    """The served classifier's answers are DynaNoise's on the logits the audit's target reads, bit for bit:
    keyed noise (per_input) without a generator, fresh noise (per_query) from one seeded like it."""
    estimator, records = _classifiers()[name]
    target = SklearnTarget(estimator, source="model", digest="")
    logits = target.logits(np.asarray(records, dtype=np.float64))
    keyed = DynaNoise(sigma0_sq=0.2, lam=1.5, temperature=4.0, noise_mode="per_input", key=KEY)
    served = DefendedClassifier(estimator, keyed)
    expected = keyed.apply(logits, np.random.default_rng(99))
    np.testing.assert_array_equal(served.predict_proba(records), expected)
    np.testing.assert_array_equal(served.predict(records), estimator.classes_[expected.argmax(axis=1)])
    fresh = DynaNoise(sigma0_sq=0.2, lam=1.5, temperature=4.0)
    answers = DefendedClassifier(estimator, fresh, seed=3).predict_proba(records)
    np.testing.assert_array_equal(answers, fresh.apply(logits, np.random.default_rng(3)))
    assert not np.array_equal(answers, fresh.apply(logits, np.random.default_rng(4)))


def test_only_a_fitted_classifier_is_served():
    for estimator in (RandomForestClassifier(), LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0])):
        with pytest.raises(TypeError, match="serves a fitted classifier"):
            DefendedClassifier(estimator, DynaNoise())


def test_a_defended_scikit_learn_classifier_with_the_key_is_never_pickled():
    estimator, records = _classifiers()["forest"]
    with pytest.raises(TypeError, match="holds its secret key and is not pickled"):
        pickle.dumps(DefendedClassifier(estimator, DynaNoise(noise_mode="per_input", key=KEY)))
    served = DefendedClassifier(estimator, DynaNoise(), seed=1)  # per_query: no key, pickled with its state
    copy = pickle.loads(pickle.dumps(served))
    np.testing.assert_array_equal(copy.predict_proba(records), served.predict_proba(records))

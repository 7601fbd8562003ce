"""Each target adapter on a tiny real model in its real file format: same logits, fingerprints, safety."""

import gc
import sys
import types
import warnings
from functools import partial

import joblib
import numpy as np
import pandas as pd
import pytest
import skops.io as sio
import torch
import yaml
from joblib import Parallel, delayed
from safetensors.torch import save_file
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, VotingClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.multioutput import MultiOutputClassifier
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from sklearn.svm import SVC, LinearSVC
from sklearn.tree import DecisionTreeClassifier

from audit_core.audit.conditions import evaluate_condition
from audit_core.audit.models import (
    open_audited_target,
    reference_model_kind,
    target_output,
    with_model_names,
)
from audit_core.audit.run import gather_inputs
from audit_core.audit.signals import target_signals
from audit_core.config import TrainingRecipe, parse_config
from audit_core.core.errors import ConfigError, TargetError
from audit_core.core.files import sha256_file
from audit_core.data import Split, load_data
from audit_core.defenses import Undefended
from audit_core.targets import TorchTarget, as_logits, open_target
from audit_core.targets import sklearn as sklearn_targets
from audit_core.training import train_classifier
from audit_core.training.cache import CacheEntryWarning, ModelCache
from audit_core.training.kinds import CloneModels, _write_skops, draws_from_c_rand, seeded_clone
from flows import cli
from tests.audit_core.byo import (
    FEATURES,
    N_CLASSES,
    N_FEATURES,
    blobs,
    chosen_models,
    member_mlp,
    tabular_parts,
)
from tests.audit_core.models import CentredLogistic, UnnormalisedProbabilities, WrappedOutputs


def _target(**fields):
    return open_target(parse_config({"target": fields, **chosen_models({"target": fields})}).target)


def _records(n: int = 50) -> Split:
    x, y = blobs(n, seed=7)
    return Split(x, y, np.array([f"q{i}" for i in range(n)]))


@pytest.fixture(scope="module")
def module():
    return member_mlp()


def _torch_logits(module, records: Split) -> np.ndarray:
    with torch.no_grad():
        return module(torch.as_tensor(records.features)).double().numpy()


def test_torch_script_matches_the_module_and_fingerprints_the_file(module, tmp_path):
    path = tmp_path / "model.pt"
    with warnings.catch_warnings():
        warnings.simplefilter(
            "ignore", FutureWarning
        )  # TorchScript is deprecated, and still a format users have
        torch.jit.script(module).save(str(path))
    target = _target(kind="torch_script", path=str(path), batch_size=7, trust_code=True)
    records = _records()
    np.testing.assert_allclose(target.query(records), _torch_logits(module, records), atol=1e-5)
    assert target.fingerprint() == sha256_file(path)


@pytest.mark.parametrize("suffix", [".pt", ".safetensors"])
def test_state_dict_with_factory_matches_the_module(module, tmp_path, suffix):
    path = tmp_path / f"weights{suffix}"
    state = {k: v.contiguous() for k, v in module.state_dict().items()}
    torch.save(state, path) if suffix == ".pt" else save_file(state, path)
    target = _target(
        kind="torch_state_dict",
        weights=str(path),
        architecture="tests.audit_core.models:mlp",
        architecture_kwargs={"n_features": N_FEATURES, "n_classes": N_CLASSES},
    )
    records = _records()
    np.testing.assert_allclose(target.query(records), _torch_logits(module, records), atol=1e-5)
    other = _target(
        kind="torch_state_dict",
        weights=str(path),
        architecture="tests.audit_core.models:mlp",
        architecture_kwargs={"n_features": N_FEATURES, "n_classes": N_CLASSES, "hidden": 64},
    )
    assert other.fingerprint() != target.fingerprint(), "factory arguments are part of the fingerprint"


@pytest.mark.parametrize("prefix", ["", "module.", "_orig_mod.", "model.", "net._orig_mod."])
def test_a_training_checkpoint_or_a_wrapped_state_dict_gives_the_networks_weights(module, tmp_path, prefix):
    """What training code saves: a checkpoint with the state dict beside the optimizer's and the epoch, its
    keys prefixed by DataParallel (``module.``), ``torch.compile`` (``_orig_mod.``) or the attribute of a
    PyTorch Lightning module that holds the network (``model.``, in Lightning's ``.ckpt`` layout), or by
    several; and such a state dict alone. The network is the one saved."""
    state = {f"{prefix}{k}": v for k, v in module.state_dict().items()}
    optimizer = torch.optim.Adam(module.parameters())
    files = {
        "checkpoint.pt": {
            "epoch": 7,
            "model_state_dict": state,
            "optimizer_state_dict": optimizer.state_dict(),
        },
        "wrapped.pt": state,
    }
    if prefix:  # PyTorch Lightning's layout
        files["lightning.ckpt"] = {
            "epoch": 3,
            "global_step": 120,
            "pytorch-lightning_version": "2.4.0",
            "state_dict": state,
            "optimizer_states": [optimizer.state_dict()],
            "hyper_parameters": {"learning_rate": 0.01},
        }
    records = _records()
    for name, content in files.items():
        torch.save(content, tmp_path / name)
        target = _target(
            kind="torch_state_dict",
            weights=str(tmp_path / name),
            architecture="tests.audit_core.models:mlp",
            architecture_kwargs={"n_features": N_FEATURES, "n_classes": N_CLASSES},
        )
        np.testing.assert_allclose(target.query(records), _torch_logits(module, records), atol=1e-5)


def test_a_network_returning_an_output_object_is_read_by_its_logits_and_trains(module, tmp_path):
    """A network that returns an object with a ``logits`` tensor (as Hugging Face classifiers do) is
    queried by those logits, and trains as a reference of its architecture; one that returns a tuple is one
    sentence, not guessed at."""
    state = {f"body.{name}": value.contiguous() for name, value in module.state_dict().items()}
    save_file(state, tmp_path / "w.safetensors")
    fields = {
        "kind": "torch_state_dict",
        "weights": str(tmp_path / "w.safetensors"),
        "architecture": "tests.audit_core.models:WrappedOutputs",
        "architecture_kwargs": {"n_features": N_FEATURES, "n_classes": N_CLASSES},
    }
    records = _records()
    np.testing.assert_array_equal(_target(**fields).query(records), _torch_logits(module, records))
    x, y = blobs(60, seed=8)
    recipe = TrainingRecipe(epochs=40, learning_rate=0.01, batch_size=30)
    build = partial(WrappedOutputs, N_FEATURES, N_CLASSES)
    trained = train_classifier(x, y, N_CLASSES, recipe, seed=0, build=build)
    with torch.no_grad():
        assert (trained(torch.as_tensor(x)).logits.argmax(1).numpy() == y).mean() > 0.9  # it learnt
    fields["architecture_kwargs"]["as_tuple"] = True
    with pytest.raises(TargetError, match=r"returned a tuple instead of a tensor of per-class scores"):
        _target(**fields).query(records)


def test_clones_drawing_from_the_c_random_generator_are_the_same_fitted_side_by_side():
    """SVC(probability=True) calibrates on libsvm's cross-validation, whose folds come from the C library's
    one random generator: clones fitted in two threads at once interleaved their draws and differed from run
    to run. They take turns now, and equal clones fitted one after another, bit for bit."""
    assert draws_from_c_rand(make_pipeline(StandardScaler(), SVC()))
    assert draws_from_c_rand(LogisticRegression(solver="liblinear"))
    assert not draws_from_c_rand(LogisticRegression())
    x, y = blobs(200, seed=5)
    clones = CloneModels(SVC(probability=True), N_CLASSES)
    sets = [((x[i::4], y[i::4]), seed) for i, seed in enumerate((11, 12, 13, 14))]
    one_by_one = [clones.train([data], [seed])[0].predict_proba(x) for data, seed in sets]
    for _ in range(3):
        side_by_side = Parallel(n_jobs=2, prefer="threads")(
            delayed(lambda data, seed: clones.train([data], [seed])[0].predict_proba(x))(data, seed)
            for data, seed in sets
        )
        for alone, beside in zip(one_by_one, side_by_side, strict=True):
            np.testing.assert_array_equal(beside, alone)


def test_a_pickled_module_is_refused_by_weights_only(module, tmp_path):
    path = tmp_path / "whole_model.pt"
    torch.save(module, path)
    with pytest.raises(
        TargetError,
        match="cannot be loaded with weights_only=True: it holds more than tensors, a "
        r"torch.nn.modules.container.Sequential object, whose code is not run here",
    ):
        _target(kind="torch_state_dict", weights=str(path), architecture="tests.audit_core.models:mlp")


def test_a_lightning_checkpoint_with_its_hyper_parameters_loads_without_lightning(
    module, tmp_path, monkeypatch
):
    """Lightning saves ``save_hyperparameters()`` as its own dict class: the checkpoint is read with it as a
    plain dict, under ``weights_only=True``, where Lightning is not installed. The file is written under
    Lightning's class name by a stand-in module."""
    lightning = {name: types.ModuleType(name) for name in ("lightning", "lightning.fabric")}
    data = types.ModuleType("lightning.fabric.utilities.data")
    data.AttributeDict = type("AttributeDict", (dict,), {"__module__": data.__name__})
    for name, stand_in in {
        **lightning,
        "lightning.fabric.utilities": types.ModuleType("u"),
        data.__name__: data,
    }.items():
        monkeypatch.setitem(sys.modules, name, stand_in)
    state = {f"model.{name}": value for name, value in module.state_dict().items()}
    torch.save(
        {"epoch": 4, "state_dict": state, "hyper_parameters": data.AttributeDict(hidden=64, lr=0.01)},
        tmp_path / "epoch=4.ckpt",
    )
    for name in (*lightning, "lightning.fabric.utilities", data.__name__):
        monkeypatch.delitem(sys.modules, name)
    target = _target(
        kind="torch_state_dict",
        weights=str(tmp_path / "epoch=4.ckpt"),
        architecture="tests.audit_core.models:mlp",
        architecture_kwargs={"n_features": N_FEATURES, "n_classes": N_CLASSES},
    )
    records = _records()
    np.testing.assert_allclose(target.query(records), _torch_logits(module, records), atol=1e-5)


@pytest.fixture(scope="module")
def classifier():
    x, y = blobs(200, seed=3)
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(x, y)


def test_skops_classifier_gives_log_probabilities(classifier, tmp_path):
    path = tmp_path / "model.skops"
    sio.dump(classifier, path)
    target = _target(kind="sklearn", path=str(path))
    records = _records()
    expected = np.log(classifier.predict_proba(records.features))
    np.testing.assert_allclose(target.query(records), expected, rtol=1e-6)
    assert target.fingerprint() == sha256_file(path)
    fields = {"target": {"kind": "sklearn", "path": str(path)}}
    assert target_output(parse_config({**chosen_models(fields), **fields})) == "probabilities"


def _double(x):
    return 2 * x


def test_skops_refuses_unknown_types_until_the_config_trusts_them(tmp_path):
    x, y = blobs(100, seed=3)
    model = make_pipeline(FunctionTransformer(_double), LogisticRegression(max_iter=500)).fit(x, y)
    path = tmp_path / "custom.skops"
    sio.dump(model, path)
    [untrusted] = sio.get_untrusted_types(file=path)
    with pytest.raises(TargetError, match=f"contains types that are not trusted: \\['{untrusted}'\\]"):
        _target(kind="sklearn", path=str(path))
    target = _target(kind="sklearn", path=str(path), trusted_types=[untrusted])
    np.testing.assert_allclose(np.exp(target.query(_records())), model.predict_proba(_records().features))


def test_pickles_need_consent(classifier, tmp_path):
    path = tmp_path / "model.joblib"
    joblib.dump(classifier, path)
    with pytest.raises(TargetError, match="is a pickle, which runs arbitrary code when loaded"):
        _target(kind="sklearn", path=str(path))
    target = _target(kind="sklearn", path=str(path), trust_pickle=True)
    np.testing.assert_allclose(
        np.exp(target.query(_records())), classifier.predict_proba(_records().features)
    )


def test_a_model_file_is_loaded_once_while_its_model_is_held_and_consent_is_asked_each_time(
    classifier, tmp_path, monkeypatch
):
    path = tmp_path / "model.joblib"
    joblib.dump(classifier, path)
    loads = []
    load = sklearn_targets.LOADERS[".joblib"]
    monkeypatch.setitem(sklearn_targets.LOADERS, ".joblib", lambda *args: loads.append(1) or load(*args))
    fields = {"target": {"kind": "sklearn", "path": str(path), "trust_pickle": True}}
    config = parse_config({**chosen_models(fields), **fields})
    first = open_target(config.target)
    assert target_output(config) == "probabilities"  # what the tuning files record: the model held
    second = open_target(config.target)
    assert second.model is first.model and len(loads) == 1
    with pytest.raises(TargetError, match="is a pickle"):  # the same file without consent: refused again
        _target(kind="sklearn", path=str(path))
    joblib.dump(clone(classifier).set_params(logisticregression__C=0.1).fit(*blobs(200, seed=3)), path)
    third = open_target(config.target)  # other bytes, another model
    assert third.model is not first.model and len(loads) == 3
    np.testing.assert_allclose(np.exp(first.query(_records())), classifier.predict_proba(_records().features))
    del first, second, third
    gc.collect()
    open_target(config.target)  # nobody held it: loaded again
    assert len(loads) == 4


def _export_onnx(module, path, *, batch: int | None) -> None:
    dynamic = None if batch else {"x": {0: "n"}}
    with warnings.catch_warnings():
        warnings.simplefilter(
            "ignore"
        )  # the TorchScript-based exporter is deprecated but needs no onnxscript
        torch.onnx.export(
            module,
            (torch.zeros(batch or 2, N_FEATURES),),
            str(path),
            input_names=["x"],
            output_names=["logits"],
            dynamic_axes=dynamic,
            dynamo=False,
        )


@pytest.mark.parametrize("batch", [None, 1])
def test_onnx_matches_the_torch_model_with_dynamic_or_fixed_batches(module, tmp_path, batch):
    path = tmp_path / "model.onnx"
    _export_onnx(module, path, batch=batch)
    target = _target(kind="onnx", path=str(path))
    assert target.batch_size == (batch or 256)
    records = _records()
    np.testing.assert_allclose(target.query(records), _torch_logits(module, records), rtol=1e-4, atol=1e-5)
    with pytest.raises(
        TargetError, match=r"expects records of shape \(8,\) but the data's records have shape \(5,\)"
    ):
        target.query(Split(records.features[:, :5], records.labels, records.ids))


def test_callable_receives_raw_records_and_its_source_is_fingerprinted(tmp_path):
    texts = np.array([["a cat sat"], ["hello world"], ["zz"]], dtype=object)
    records = Split(texts, np.array([0, 1, 2]), np.array(["a", "b", "c"]))
    vocabulary = tmp_path / "vocab.txt"
    vocabulary.write_text("cat\n")
    target = _target(kind="callable", function="tests.audit_core.models:text_logits", files=[str(vocabulary)])
    from tests.audit_core.models import text_logits

    np.testing.assert_allclose(target.query(records), text_logits(texts))
    fingerprint = target.fingerprint()
    vocabulary.write_text("dog\n")
    assert (
        _target(
            kind="callable", function="tests.audit_core.models:text_logits", files=[str(vocabulary)]
        ).fingerprint()
        != fingerprint
    )


def test_predictions_table_answers_by_id_in_query_order(tmp_path):
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.3, 0.4, 0.3]])
    frame = pd.DataFrame(probs, columns=["p0", "p1", "p2"]).assign(record=["x", "y", "z"])
    frame.to_parquet(tmp_path / "preds.parquet")
    target = _target(
        kind="predictions", path=str(tmp_path / "preds.parquet"), id_column="record", output="probabilities"
    )
    records = Split(np.zeros((2, 0), np.float32), np.array([2, 0]), np.array(["z", "x"]))
    np.testing.assert_allclose(np.exp(target.query(records)), probs[[2, 0]])
    with pytest.raises(
        TargetError, match=r"has no row for 1 of 2 queried records \(e.g. the id of row \d of the set queried"
    ):
        target.query(Split(np.zeros((2, 0), np.float32), np.array([0, 0]), np.array(["x", "w"])))


def test_probabilities_must_be_probabilities():
    with pytest.raises(TargetError, match="expected probabilities, or set output: logits"):
        as_logits(np.array([[2.0, -1.0]]), "probabilities", "model")
    np.testing.assert_allclose(
        as_logits(np.array([[1.0, 0.0]]), "probabilities", "model"), [[0.0, np.log(1e-12)]]
    )


class _Planter(torch.nn.Module):
    """A model whose TorchScript file writes a file to ``path`` when it is loaded (``__setstate__``)."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path
        self.weight = torch.ones(N_CLASSES, N_FEATURES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.weight.t()

    @torch.jit.export
    def __getstate__(self) -> tuple[str, torch.Tensor, bool]:
        return (self.path, self.weight, self.training)

    @torch.jit.export
    def __setstate__(self, state: tuple[str, torch.Tensor, bool]) -> None:
        self.path, self.weight, self.training = state
        planted = torch.from_file(self.path, shared=True, size=16, dtype=torch.uint8)
        self.weight = self.weight + 0 * planted.sum().float()  # used, so TorchScript keeps the call


def test_a_torch_script_file_that_writes_a_file_on_load_is_refused_without_consent(tmp_path):
    planted, path = tmp_path / "planted.bin", tmp_path / "model.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.script(_Planter(str(planted))).save(str(path))
    assert not planted.exists()
    with pytest.raises(
        ConfigError, match=r"trust_code' = False is invalid: a TorchScript file runs its own code"
    ):
        _target(kind="torch_script", path=str(path))
    assert not planted.exists()
    _target(kind="torch_script", path=str(path), trust_code=True)  # consent: its code runs, as it says
    assert planted.is_file()


def test_dynaudit_audit_refuses_the_planting_file_with_exit_2_and_writes_nothing(tmp_path, capsys):
    planted, path = tmp_path / "planted.bin", tmp_path / "model.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.script(_Planter(str(planted))).save(str(path))
    config = {"target": {"kind": "torch_script", "path": str(path)}, "output_dir": str(tmp_path / "out")}
    (tmp_path / "audit.yaml").write_text(yaml.safe_dump(config))
    assert cli.main(["audit", str(tmp_path / "audit.yaml")]) == 2
    printed = capsys.readouterr()
    assert printed.out == "" and printed.err.count("\n") == 1
    assert "a TorchScript file runs its own code when loaded and called" in printed.err
    assert "set target.trust_code: true only if you trust its author" in printed.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audit.yaml", "model.pt"], (
        "nothing written or planted"
    )


@pytest.mark.parametrize("listed", [True, False], ids=["data.classes", "classes_ of the model"])
@pytest.mark.parametrize("names", [["cat", "dog", "eel"], [3, 5, 8]])
def test_labels_named_in_data_classes_are_the_scikit_learn_models_columns(tmp_path, names, listed):
    """A classifier trained on class names (strings, or integers other than 0..k-1) and CSV tables whose
    labels are those names: with data.classes the model's classes_, or without it (read from the model's
    classes_, as an audit does), each label becomes its position, the model's column for it, so the audit's
    accuracy on every part is the model's own score on the names. Classes read from the model leave the
    config's digest (the Prefect run's name, the run folder's) as it was given; listed ones are in it."""
    parts = tabular_parts()
    named = {part: (x, np.array(names)[y], ids) for part, (x, y, ids) in parts.items()}
    paths = {}
    for part, (x, labels, ids) in named.items():
        paths[part] = str(tmp_path / f"{part}.csv")
        pd.DataFrame(x, columns=FEATURES).assign(label=labels, id=ids).to_csv(paths[part], index=False)
    x, labels, _ = named["members"]
    model = LogisticRegression(max_iter=500).fit(x, labels)
    sio.dump(model, tmp_path / "named.skops")
    fields = {
        "data": {"kind": "table", "id": "id", **({"classes": names} if listed else {}), **paths},
        "target": {"kind": "sklearn", "path": str(tmp_path / "named.skops")},
    }
    given = parse_config(yaml.safe_load(yaml.safe_dump({**chosen_models(fields), **fields})))
    audit, _ = with_model_names(given)
    assert audit.data.classes == names
    assert audit.digest == given.digest
    unlisted = given.model_copy(update={"data": given.data.model_copy(update={"classes": None})})
    assert (unlisted.digest != given.digest) == listed
    data = load_data(audit.data)
    signals = target_signals(open_audited_target(audit, data), data)
    assert data.n_classes == len(names)
    for part in ("members", "non_members", "test"):
        x, labels, _ = named[part]
        split = getattr(signals, part)
        assert (split.logits.argmax(axis=1) == split.labels).mean() == pytest.approx(model.score(x, labels))


def test_a_table_is_read_by_the_columns_the_model_was_fitted_on(tmp_path, capsys):
    """Tables whose columns are in another order than the model's, beside a column the model never saw
    (a timestamp): without data.features, the audit reads the model's columns in its order (the config's
    digest as given) and scores every part as the model does; ``dynaudit check`` says where they came
    from. Before, the audit refused them, and a table with an extra column needed every feature listed."""
    parts = tabular_parts()
    model_columns = FEATURES[::-1]
    paths = {}
    for part, (x, y, ids) in parts.items():
        paths[part] = str(tmp_path / f"{part}.csv")
        frame = pd.DataFrame(x, columns=FEATURES).assign(label=y, id=ids, seen_at=np.arange(len(y)) * 7.5)
        frame.to_csv(paths[part], index=False)
    x, y, _ = parts["members"]
    model = LogisticRegression(max_iter=500).fit(pd.DataFrame(x, columns=FEATURES)[model_columns], y)
    sio.dump(model, tmp_path / "m.skops")
    fields = {
        "data": {"kind": "table", "id": "id", **paths},
        "target": {"kind": "sklearn", "path": str(tmp_path / "m.skops")},
    }
    given = parse_config({**chosen_models(fields), **fields})
    audit, _ = with_model_names(given)
    assert audit.data.features == model_columns and audit.digest == given.digest
    data = load_data(audit.data)
    signals = target_signals(open_audited_target(audit, data), data)
    for part in ("members", "non_members", "test"):
        x, y, _ = parts[part]
        read = getattr(data, part).features
        np.testing.assert_allclose(read, x[:, ::-1], rtol=1e-6)  # the model's columns, in its order
        expected = model.predict_proba(pd.DataFrame(read, columns=model_columns))
        np.testing.assert_allclose(np.exp(getattr(signals, part).logits), expected, rtol=1e-9)

    (tmp_path / "audit.yaml").write_text(yaml.safe_dump({**chosen_models(fields), **fields}))
    assert cli.main(["check", str(tmp_path / "audit.yaml")]) == 0
    assert f"features: the {len(FEATURES)} columns target.path '{tmp_path / 'm.skops'}' was fitted on)" in (
        capsys.readouterr().out
    )


def test_a_pipeline_that_picks_columns_by_name_is_queried_and_cloned_on_named_columns(tmp_path):
    """A ColumnTransformer pipeline fitted on a data frame (a text column one-hot encoded and the numbers
    scaled, each picked by name): the target answers the audit's records as the model scores them, its
    clones (reference models) train on the same named columns, and features in another order are refused."""
    columns = [*FEATURES, "colour"]
    tables, paths = {}, {}
    for part, (x, y, ids) in tabular_parts().items():
        colour = np.array(["red", "green", "blue"])[(y + (x[:, 0] > 0)) % 3]  # a text feature with signal
        tables[part] = pd.DataFrame(x, columns=FEATURES).assign(colour=colour, label=y, id=ids)
        paths[part] = str(tmp_path / f"{part}.parquet")
        tables[part].to_parquet(paths[part])
    encode = ColumnTransformer(
        [("text", OneHotEncoder(), ["colour"]), ("numbers", StandardScaler(), FEATURES)]
    )
    model = make_pipeline(encode, LogisticRegression(max_iter=500))
    model.fit(tables["members"][columns], tables["members"].label)
    joblib.dump(model, tmp_path / "pipeline.joblib")
    fields = {
        "data": {"kind": "table", "id": "id", **paths},
        "target": {"kind": "sklearn", "path": str(tmp_path / "pipeline.joblib"), "trust_pickle": True},
        "references": {"kind": "clone"},
    }
    audit = parse_config({**chosen_models(fields), **fields})
    data = load_data(audit.data)
    signals = target_signals(open_audited_target(audit, data), data)
    for part in ("members", "test"):
        split, table = getattr(signals, part), tables[part]
        assert (split.logits.argmax(axis=1) == split.labels).mean() == model.score(
            table[columns], table.label
        )
    clones = reference_model_kind(audit, data)
    (fitted,) = clones.train([(data.population.features, data.population.labels)], [0])
    by_hand = clone(model).fit(tables["population"][columns], tables["population"].label)
    np.testing.assert_allclose(  # the clone trains on one BLAS thread: its sums in another order
        clones.store(ModelCache(None), "key", fitted).logits(data.test.features),
        np.log(by_hand.predict_proba(tables["test"][columns])),
        rtol=1e-5,
    )
    reordered = parse_config(
        {**chosen_models(fields), **fields, "data": {**fields["data"], "features": columns[::-1]}}
    )
    with pytest.raises(
        TargetError, match=r"was fitted on the columns \['f0', .*set data.features to the model's"
    ):
        open_audited_target(reordered, load_data(reordered.data))


def test_a_model_fitted_on_categorical_columns_is_queried_and_cloned_on_them(tmp_path):
    """HistGradientBoosting fitted on a Parquet table whose text column is a pandas categorical (its
    categories then split natively, from the dtype): the target answers the audit's records exactly as the
    model scores the tables, and its clones train and answer on the same categorical column. Given the text as
    plain strings, the model cannot read them (it would take them for numbers)."""
    columns = [*FEATURES, "colour"]
    tables, paths = {}, {}
    dtype = pd.CategoricalDtype(["blue", "green", "red"])
    for part, (x, y, _) in tabular_parts().items():
        colour = np.array(["red", "green", "blue"])[(y + (x[:, 0] > 0)) % 3]  # a text feature with signal
        tables[part] = pd.DataFrame(x, columns=FEATURES).assign(
            colour=pd.Series(colour, dtype=dtype), label=y
        )
        paths[part] = str(tmp_path / f"{part}.parquet")
        tables[part].to_parquet(paths[part])
    model = HistGradientBoostingClassifier(max_iter=20, random_state=0)
    model.fit(tables["members"][columns], tables["members"].label)
    assert model.is_categorical_.tolist() == [False] * len(FEATURES) + [True]
    sio.dump(model, tmp_path / "hgb.skops")
    trusted = sio.get_untrusted_types(file=tmp_path / "hgb.skops")
    target = {"kind": "sklearn", "path": str(tmp_path / "hgb.skops"), "trusted_types": trusted}
    clone, data = _audited_as_the_model_scores_the_tables(target, paths, tables, model, columns)
    by_hand = seeded_clone(model, 0).fit(tables["population"][columns], tables["population"].label)
    np.testing.assert_allclose(
        clone.logits(data.test.features),
        as_logits(by_hand.predict_proba(tables["test"][columns]), "probabilities", "the clone"),
        rtol=1e-6,
    )


def test_a_table_of_pandas_nullable_columns_is_queried_with_their_gaps(tmp_path):
    """A Parquet table with pandas' nullable columns (``Int64`` and ``boolean`` with gaps, ``string``), whose
    gaps read as ``pd.NA``, and a pipeline fitted on it: the target answers the audit's records exactly as the
    model scores the tables (a gap is NaN to it), and its clones train on them."""
    rng = np.random.default_rng(11)
    tables, paths = {}, {}
    for part, (x, y, _) in tabular_parts().items():
        gaps = rng.random((2, len(y))) < 0.2
        tables[part] = pd.DataFrame(x[:, :2], columns=FEATURES[:2]).assign(
            count=pd.array(np.where(gaps[0], None, 2 * y + (x[:, 2] > 0)), dtype="Int64"),
            flag=pd.array(np.where(gaps[1], None, y == 1), dtype="boolean"),
            colour=pd.array(np.array(["red", "green", "blue"])[y], dtype="string"),
            label=y,
        )
        paths[part] = str(tmp_path / f"{part}.parquet")
        tables[part].to_parquet(paths[part])
    columns = [*FEATURES[:2], "count", "flag", "colour"]
    encode = ColumnTransformer(
        [("colour", OneHotEncoder(sparse_output=False), ["colour"])], remainder="passthrough"
    ).set_output(transform="pandas")
    model = make_pipeline(encode, HistGradientBoostingClassifier(max_iter=20, random_state=0))
    model.fit(tables["members"][columns], tables["members"].label)
    joblib.dump(model, tmp_path / "pipeline.joblib")
    target = {"kind": "sklearn", "path": str(tmp_path / "pipeline.joblib"), "trust_pickle": True}
    clone, data = _audited_as_the_model_scores_the_tables(target, paths, tables, model, columns)
    assert np.isfinite(clone.logits(data.test.features)).all()


def test_a_pipeline_fitted_on_a_list_of_texts_is_queried_and_cloned_on_the_text_column(tmp_path):
    """A TfidfVectorizer pipeline fitted on a list of texts, not on a table: the target answers each record's
    text as the model scores the texts, its clones fit on the texts too, and data of a text and another
    column are refused with a sentence saying which column the model reads."""
    tables, paths, two_columns, model, target = _texts_and_their_model(tmp_path)
    clone, data = _audited_as_the_model_scores_the_tables(target, paths, tables, model, "text")
    by_hand = seeded_clone(model, 0).fit(tables["population"].text, tables["population"].label)
    np.testing.assert_allclose(
        clone.logits(data.test.features),
        as_logits(by_hand.predict_proba(tables["test"].text), "probabilities", "the clone"),
        rtol=1e-6,
    )
    fields = {"data": {"kind": "table", **two_columns}, "target": target}
    audit = parse_config({**chosen_models(fields), **fields})
    with pytest.raises(
        TargetError,
        match=r"holds a Pipeline: its TfidfVectorizer reads one text per record, but the data have 2 feature "
        r"columns \['text', 'f0'\]; set data.features to the one text column",
    ):
        open_audited_target(audit, load_data(audit.data))


def test_the_augmentation_attack_leaves_words_out_of_texts_and_the_boundary_attack_says_why_it_cannot(
    tmp_path,
):
    """On a model of texts alone, the augmentation attack queries the model with words left out (its scores
    fractions of its 17 queries, more than two values) and the boundary attack, which moves along number
    fields, is skipped saying so."""
    _, paths, _, _, target = _texts_and_their_model(tmp_path)
    fields = {"data": {"kind": "table", **paths}, "target": target, "reference_models": 0}
    signals = gather_inputs(parse_config(fields)).signals
    evaluation = evaluate_condition(
        signals, Undefended(), ["augmentation", "boundary"], seed=0, knowledge=["naive"]
    )
    assert list(evaluation.skipped) == ["boundary"]
    assert "needs number fields to move along" in evaluation.skipped["boundary"]
    scores = evaluation.outcome("augmentation", "naive").scores
    assert len(np.unique(scores)) > 2 and np.isin(np.round(scores * 17), np.arange(18)).all()


def _texts_and_their_model(tmp_path) -> tuple[dict, dict, dict, object, dict]:
    """Parquet tables of six-word texts whose words depend on the label (and the same with a number column
    beside them), a TfidfVectorizer pipeline fitted on the members' texts, saved with skops, and its target
    config: ``(tables, paths, two-column paths, model, target)``."""
    rng = np.random.default_rng(7)
    words = np.array(["ball", "goal", "bread", "soup", "code", "chip", "team", "salt", "rain"])
    tables, paths, two_columns = {}, {}, {}
    for part, (x, y, _) in tabular_parts().items():
        texts = [" ".join(rng.choice([*words[2 * label : 2 * label + 2], *words[6:]], 6)) for label in y]
        tables[part] = pd.DataFrame({"text": texts, "label": y})
        paths[part] = str(tmp_path / f"{part}.parquet")
        tables[part].to_parquet(paths[part])
        two_columns[part] = str(tmp_path / f"{part}-two.parquet")
        tables[part].assign(f0=x[:, 0]).to_parquet(two_columns[part])
    model = make_pipeline(TfidfVectorizer(), LogisticRegression(max_iter=500))
    model.fit(tables["members"].text, tables["members"].label)
    sio.dump(model, tmp_path / "texts.skops")
    trusted = sio.get_untrusted_types(file=tmp_path / "texts.skops")
    target = {"kind": "sklearn", "path": str(tmp_path / "texts.skops"), "trusted_types": trusted}
    return tables, paths, two_columns, model, target


def _audited_as_the_model_scores_the_tables(
    target: dict, paths: dict, tables: dict, model, columns: list[str] | str
) -> tuple:
    """The audit of ``target`` on the tables at ``paths``, checked to answer the members and the test set
    exactly as ``model`` scores ``tables``' ``columns`` (one name: that column, as a model of texts takes
    it); returns one of its clones, fitted on the population, and the audit's data."""
    fields = {"data": {"kind": "table", **paths}, "target": target}
    audit = parse_config({**chosen_models(fields), **fields})
    data = load_data(audit.data)
    signals = target_signals(open_audited_target(audit, data), data)
    for part in ("members", "test"):
        expected = as_logits(model.predict_proba(tables[part][columns]), "probabilities", "the model")
        np.testing.assert_array_equal(getattr(signals, part).logits, expected)
    clones = reference_model_kind(audit, data)
    (fitted,) = clones.train([(data.population.features, data.population.labels)], [0])
    return clones.store(ModelCache(None), "key", fitted), data


def test_a_models_error_that_quotes_a_record_is_reported_without_its_text():
    """scikit-learn's error on a text field quotes the record ("could not convert string to float: '...'");
    the sentence, which reaches the terminal, the logs and Prefect's database, holds a placeholder instead,
    for the target's answers and for a clone's fit alike, the record written plainly or escaped."""
    rng = np.random.default_rng(0)
    model = LogisticRegression().fit(rng.normal(size=(20, 2)), np.arange(20) % 2)
    target = sklearn_targets.SklearnTarget(model, source="target.path 'm.skops'", digest="d")
    records = np.array([[0.5, "Jane Roe, diagnosis HIV"], [0.1, "John\tDoe's\nnote"]], dtype=object)
    for row in records:
        with pytest.raises(TargetError) as caught:
            target.logits(row[None])
        assert "could not convert string to float: " in str(caught.value)
        assert "<a record's text>" in str(caught.value)
        assert not {"Jane", "John", "Doe"} & set(str(caught.value).replace("'", " ").split())
    with pytest.raises(TargetError, match="could not be fitted") as caught:
        CloneModels(LogisticRegression(), 2).train([(records, np.array([0, 1]))], [0])
    assert "Jane" not in str(caught.value) and "<a record's text>" in str(caught.value)


def test_a_clone_that_cannot_be_fitted_is_one_sentence():
    """The user's estimator failing on the data (here a parameter set out of range after fitting) stops the
    audit with one sentence naming the estimator and its error, not an internal error."""
    x, y = blobs(60, seed=3)
    clones = CloneModels(LogisticRegression(C=-1.0), N_CLASSES)
    with pytest.raises(
        TargetError,
        match=r"^A clone of the target \(LogisticRegression\) could not be fitted on 60 of the data's "
        r"records: InvalidParameterError: The 'C' parameter .*; expected the target's estimator to fit",
    ):
        clones.train([(x, y)], [0])


def _decimal_tables(tmp_path) -> dict[str, str]:
    """CSV tables of numbers with more digits than float32 holds (any decimal of ``normal``), 3 classes."""
    rng, paths = np.random.default_rng(5), {}
    for part, n in {"members": 120, "non_members": 120, "population": 120, "test": 120}.items():
        frame = pd.DataFrame(rng.normal(size=(n, len(FEATURES))), columns=FEATURES)
        paths[part] = str(tmp_path / f"{part}.csv")
        frame.assign(label=rng.integers(0, 3, n)).to_csv(paths[part], index=False)
    return paths


def test_a_loaded_model_is_asked_about_exactly_the_records_it_was_trained_on(tmp_path):
    """A distance-weighted k-NN answers a member with certainty only at distance zero from itself: asked
    about the member rounded to float32, it would answer 1 - 1e-8 or so, and a non-member whose neighbours
    all agree (certain too) would outrank it. The audit's logits are the model's own answers on the tables as
    pandas reads them, bit for bit, and every member's is certain."""
    paths = _decimal_tables(tmp_path)
    members = pd.read_csv(paths["members"])
    model = make_pipeline(StandardScaler(), KNeighborsClassifier(5, weights="distance"))
    sio.dump(model.fit(members[FEATURES], members.label), tmp_path / "knn.skops")
    fields = {
        "data": {"kind": "table", **paths},
        "target": {"kind": "sklearn", "path": str(tmp_path / "knn.skops")},
    }
    audit = parse_config({**chosen_models(fields), **fields})
    data = load_data(audit.data)
    signals = target_signals(open_audited_target(audit, data), data)
    for part in ("members", "non_members"):
        table = pd.read_csv(paths[part])
        expected = as_logits(model.predict_proba(table[FEATURES]), "probabilities", "the k-NN")
        np.testing.assert_array_equal(getattr(signals, part).logits, expected)
    probs = model.predict_proba(members[FEATURES])
    assert (probs[np.arange(len(members)), members.label] == 1.0).all()


def test_user_code_receives_float32_records_whatever_precision_the_data_hold(tmp_path):
    """The README's contract for a ``callable`` target and a ``function`` trainer (and the models it returns):
    float records arrive as float32, also from a table of float64 decimals."""
    paths = _decimal_tables(tmp_path)
    fields = {
        "data": {"kind": "table", **paths},
        "target": {"kind": "callable", "function": "tests.audit_core.models:float32_logits"},
        "references": {"kind": "function", "function": "tests.audit_core.models:train_float32_only"},
        "shadow": {"kind": "function", "function": "tests.audit_core.models:train_float32_only"},
    }
    audit = parse_config(fields)
    data = load_data(audit.data)
    assert data.members.features.dtype == np.float64
    signals = target_signals(open_audited_target(audit, data), data)
    np.testing.assert_array_equal(signals.test.logits, data.test.features[:, :3].astype(np.float32))
    references = reference_model_kind(audit, data)
    (trained,) = references.train([(data.population.features, data.population.labels)], [0])
    answers = references.store(ModelCache(None), "key", trained).logits(data.test.features)
    np.testing.assert_array_equal(answers, signals.test.logits)


@pytest.mark.parametrize("classes", [2, N_CLASSES])
def test_a_classifier_without_predict_proba_answers_with_its_margins(tmp_path, classes):
    """An SVM without probability=True (and a binary LinearSVC) has decision_function only: the target's
    logits are its margins (a binary margin d as [0, d]), its clones answer the same way, and a clone that
    never saw a class gives it log(1e-12) beside the log-softmax of the margins of the classes it saw."""
    x, y = blobs(120, seed=3)
    model = make_pipeline(StandardScaler(), SVC(C=10.0) if classes > 2 else LinearSVC()).fit(x, y % classes)
    assert not hasattr(model, "predict_proba")
    joblib.dump(model, tmp_path / "svm.joblib")
    target = _target(kind="sklearn", path=str(tmp_path / "svm.joblib"), trust_pickle=True)
    records = _records()
    margins = model.decision_function(records.features)

    def as_columns(scores: np.ndarray) -> np.ndarray:
        return np.column_stack([np.zeros_like(scores), scores]) if scores.ndim == 1 else scores

    np.testing.assert_array_equal(target.query(records), as_columns(margins))
    fields = {"target": {"kind": "sklearn", "path": str(tmp_path / "svm.joblib"), "trust_pickle": True}}
    assert target_output(parse_config({**chosen_models(fields), **fields})) == "logits"  # the shipped kind

    clones = CloneModels(clone(model), classes)
    labels = records.labels % classes
    (fitted,) = clones.train([(records.features, labels)], [0])
    by_hand = seeded_clone(model, 0).fit(records.features, labels).decision_function(records.features)
    np.testing.assert_allclose(
        clones.store(ModelCache(None), "a", fitted).logits(records.features), as_columns(by_hand), rtol=1e-9
    )
    if classes > 2:
        seen = labels != 0
        (without_first,) = clones.train([(records.features[seen], labels[seen])], [1])
        partial = clones.store(ModelCache(None), "b", without_first).logits(records.features)
        assert partial.shape == (len(records), classes)
        np.testing.assert_array_equal(partial[:, 0], np.log(1e-12))
        np.testing.assert_allclose(np.exp(partial[:, 1:]).sum(axis=1), 1.0, rtol=1e-12)
        np.testing.assert_array_equal(
            partial[:, 1:].argmax(axis=1), without_first.predict(records.features) - 1
        )


def test_a_classifier_with_predict_alone_answers_its_label_and_a_regressor_is_refused(tmp_path):
    """A hard-voting ensemble answers its label at probability 1 (logits 0 and log(1e-12)); its clones answer
    the same way, a class a clone never saw at probability 0; a regressor (predict, no classes_) is refused
    in one sentence."""
    x, y = blobs(120, seed=3)
    estimators = [("lr", LogisticRegression(max_iter=500)), ("tree", DecisionTreeClassifier(random_state=0))]
    model = VotingClassifier(estimators, voting="hard").fit(x, y)
    sio.dump(model, tmp_path / "vote.skops")
    fields = {"kind": "sklearn", "path": str(tmp_path / "vote.skops")}
    target, records = _target(**fields), _records()

    def one_hot_logits(predicted: np.ndarray) -> np.ndarray:
        return np.where(predicted[:, None] == np.arange(N_CLASSES), 0.0, np.log(1e-12))

    np.testing.assert_array_equal(target.query(records), one_hot_logits(model.predict(records.features)))
    assert (
        target_output(parse_config({**chosen_models({"target": fields}), "target": fields}))
        == "probabilities"
    )

    seen = records.labels != 0
    clones = CloneModels(clone(model), N_CLASSES)
    (fitted,) = clones.train([(records.features[seen], records.labels[seen])], [0])
    by_hand = seeded_clone(model, 0).fit(records.features[seen], records.labels[seen])
    np.testing.assert_array_equal(
        clones.store(ModelCache(None), "a", fitted).logits(records.features),
        one_hot_logits(by_hand.predict(records.features)),
    )

    sio.dump(LinearRegression().fit(x, y), tmp_path / "regressor.skops")
    with pytest.raises(
        TargetError, match=r"holds a LinearRegression; expected a fitted classifier \(classes_"
    ):
        _target(kind="sklearn", path=str(tmp_path / "regressor.skops"))


def test_clones_of_a_trusted_pickle_are_cached_trusting_the_types_of_the_target(tmp_path):
    """The clones of a pickled estimator of the user's own class (trust_pickle: the user consented to its
    code) load back from the model cache, which trusts the types the target is made of; a cache entry
    holding any other type is refused and retrained. Without the pickle's consent nothing extra is
    trusted."""
    x, y = blobs(120, seed=3)
    model = CentredLogistic(max_iter=500).fit(x, y)
    joblib.dump(model, tmp_path / "own.joblib")
    fields = {"kind": "sklearn", "path": str(tmp_path / "own.joblib"), "trust_pickle": True}
    config = parse_config({**chosen_models({"target": fields}), "target": fields}).target
    trusted = sklearn_targets.clone_trusted_types(config, model)
    assert "tests.audit_core.models.CentredLogistic" in trusted
    assert sklearn_targets.clone_trusted_types(config.model_copy(update={"trust_pickle": False}), model) == ()

    cache = ModelCache(tmp_path / "cache")
    clones = CloneModels(clone(model), N_CLASSES, trusted)
    (fitted,) = clones.train([(x, y)], [0])
    stored = clones.store(cache, "a", fitted)
    loaded = clones.load(cache, "a")
    assert loaded is not None and type(loaded.model) is CentredLogistic
    np.testing.assert_array_equal(loaded.logits(x), stored.logits(x))

    untrusting = CloneModels(clone(model), N_CLASSES, ())
    with pytest.warns(CacheEntryWarning, match=r"not trusted: \['tests.audit_core.models.CentredLogistic'\]"):
        assert untrusting.load(cache, "a") is None
    cache.store_file("b", ".skops", _write_skops(FunctionTransformer(func=np.load)))
    with pytest.warns(CacheEntryWarning, match=r"not trusted: \['numpy.load'\]"):
        assert clones.load(cache, "b") is None


@pytest.mark.parametrize(
    ("channels", "record_shape", "advice"),
    [
        (
            1,
            (8, 8),
            "the network's Conv2d takes a channel axis first, which the records lack: save them as "
            "(n, 1, 8, 8).",
        ),
        (
            3,
            (8, 8, 3),
            "the records hold their 3 channels last, and the network's Conv2d takes them first: save them "
            "transposed to (n, 3, 8, 8).",
        ),
        (
            3,
            (1, 8, 8),
            "the records have 1 channel and the network's Conv2d takes 3: give it images of that many "
            "channels (an image folder's transform.grayscale makes one).",
        ),
    ],
)
def test_images_without_their_channel_axis_first_get_the_shape_the_network_takes(
    channels, record_shape, advice
):
    torch.manual_seed(0)
    network = torch.nn.Sequential(
        torch.nn.Conv2d(channels, 4, 3, padding=1), torch.nn.Flatten(), torch.nn.Linear(4 * 64, 3)
    )
    target = TorchTarget(network, source="The CNN")
    with pytest.raises(TargetError) as caught:
        target.logits(np.zeros((5, *record_shape), np.float32))
    assert str(caught.value).startswith(f"The CNN raised RuntimeError on records of shape {record_shape} (")
    assert str(caught.value).endswith(advice)
    assert target.logits(np.zeros((5, channels, 8, 8), np.float32)).shape == (5, 3)  # as the advice says


@pytest.mark.parametrize(
    "fit",
    [
        lambda x, y: MultiOutputClassifier(LogisticRegression()).fit(x, np.c_[y, y % 2]),
        lambda x, y: DecisionTreeClassifier(random_state=0).fit(x, np.c_[y, y % 2]),
        lambda x, y: OneVsRestClassifier(LogisticRegression()).fit(
            x, np.eye(N_CLASSES, dtype=int)[y] | (x[:, :1] > 0)
        ),
    ],
    ids=["multi-output wrapper", "multi-output tree", "multi-label one-vs-rest"],
)
def test_a_classifier_of_several_labels_per_record_is_one_sentence(fit):
    x, y = blobs(60, seed=3)
    model = fit(x, y)
    with pytest.raises(
        TargetError, match=r"that predicts several labels per record \(one per output or indicator "
    ):
        sklearn_targets.SklearnTarget(model, source="target.path 'm.skops'", digest="0")


def test_a_network_built_in_double_precision_is_told_to_take_float32():
    network = torch.nn.Sequential(torch.nn.Linear(4, 3)).double()
    with pytest.raises(TargetError) as caught:
        TorchTarget(network, source="The MLP").logits(np.zeros((5, 4), np.float32))
    assert str(caught.value).endswith(
        "the network's parameters are torch.float64 and its inputs torch.float32: build it with float32 "
        "parameters (without .double() or .half())."
    )
    assert TorchTarget(network.float(), source="The MLP").logits(np.zeros((5, 4), np.float32)).shape == (5, 3)


def test_predict_proba_rows_not_summing_to_one_are_refused_without_naming_an_output_setting():
    """A scikit-learn model says itself what it returns, so the sentence names no ``output:`` to set (only
    queried model files have one)."""
    x, y = blobs(60, seed=4)
    target = sklearn_targets.SklearnTarget(
        UnnormalisedProbabilities().fit(x, y), source="target.path 'm.joblib'", digest="0"
    )
    with pytest.raises(TargetError) as caught:
        target.logits(x)
    assert str(caught.value).startswith(
        "target.path 'm.joblib' returned rows that do not sum to 1 (sums 0.9 to"
    )
    assert str(caught.value).endswith("; expected probabilities.")

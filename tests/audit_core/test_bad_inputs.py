"""The bad-input table: each case is one sentence on stderr naming what, where and what was expected; exit
code 2 from the ``dynaudit`` command line; and nothing written. Runs ``flows.cli.main`` in-process: every
case fails in the input check, before Prefect starts."""

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import skops.io as sio
import torch
import yaml
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from audit_core.audit.inputs import check_inputs, probe_audit_data
from audit_core.core.errors import AuditInputError
from flows import cli
from flows.cli import main
from tests.audit_core.byo import (
    FEATURES,
    RECIPE,
    blobs,
    chosen_models,
    class_images,
    config,
    member_mlp,
    tabular_parts,
    write_cifar_batches,
    write_image_folder,
    write_npz,
    write_reference_predictions,
    write_tables,
)
from tests.audit_core.models import doubled, mlp

Setup = Callable[[Path, dict], None]


def _base(tmp: Path) -> dict:
    """A valid audit: Parquet tables and a scikit-learn model saved with skops."""
    x, y, _ = tabular_parts()["members"]
    sio.dump(LogisticRegression(max_iter=500).fit(x, y), tmp / "model.skops")
    return {
        "run_name": "bad",
        "data": {"kind": "table", "id": "id", **write_tables(tmp, ".parquet")},
        "target": {"kind": "sklearn", "path": str(tmp / "model.skops")},
        "recipe": RECIPE,
    }


def _edit_table(cfg: dict, part: str, edit: Callable[[pd.DataFrame], pd.DataFrame]) -> None:
    path = Path(cfg["data"][part])
    edit(pd.read_parquet(path)).to_parquet(path)


def _target(**fields) -> Setup:
    def setup(tmp: Path, cfg: dict) -> None:
        cfg["target"] = {k: v.format(tmp=tmp) if isinstance(v, str) else v for k, v in fields.items()}

    return setup


def _write(name: str, content: bytes) -> Setup:
    def setup(tmp: Path, cfg: dict) -> None:
        (tmp / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp / name).write_bytes(content)

    return setup


def _steps(*setups: Setup) -> Setup:
    def setup(tmp: Path, cfg: dict) -> None:
        for step in setups:
            step(tmp, cfg)

    return setup


def _untrusted_skops(func: Callable) -> Setup:
    def setup(tmp: Path, cfg: dict) -> None:
        x, y = blobs(60, 0)
        model = make_pipeline(FunctionTransformer(func), LogisticRegression()).fit(x, y)
        sio.dump(model, tmp / "custom.skops")
        cfg["target"]["path"] = str(tmp / "custom.skops")

    return setup


def _pickled_module(tmp: Path, cfg: dict) -> None:
    torch.save(mlp(8, 3), tmp / "model.pt")
    cfg["target"] = {
        "kind": "torch_state_dict",
        "weights": str(tmp / "model.pt"),
        "architecture": "torch.nn:Linear",
    }


def _state_dict_target(tmp: Path, cfg: dict, architecture: str, **architecture_kwargs: int) -> None:
    """The weights of ``mlp(8, 3)`` trained on the members (its outputs follow the labels, which those of an
    untrained network, drawn from the global random state, need not) as the target, built by
    ``architecture``."""
    torch.save(member_mlp().state_dict(), tmp / "weights.pt")
    cfg["target"] = {
        "kind": "torch_state_dict",
        "weights": str(tmp / "weights.pt"),
        "architecture": architecture,
        "architecture_kwargs": architecture_kwargs,
    }


def _mismatched_state_dict(tmp: Path, cfg: dict) -> None:
    _state_dict_target(tmp, cfg, "torch.nn:Linear", in_features=8, out_features=3)


def _network_without_training(tmp: Path, cfg: dict) -> None:
    """A state-dict network as the target, with nothing for dynaudit to train (no shadow, no references)."""
    _state_dict_target(tmp, cfg, "tests.audit_core.models:mlp", n_features=8, n_classes=3)
    cfg.update(shadow={"kind": "none"}, reference_models=0, attacks=["label_only"])


def _sklearn_model(
    tmp: Path, cfg: dict, n_features: int, n_classes: int, names: list[str] | None = None
) -> None:
    x, y = blobs(90, 0)
    labels = y % n_classes if names is None else np.array(names)[y % n_classes]
    joblib.dump(LogisticRegression().fit(x[:, :n_features], labels), tmp / "m.joblib")
    cfg["target"] = {"kind": "sklearn", "path": str(tmp / "m.joblib"), "trust_pickle": True}


def _clone_failing(tmp: Path, cfg: dict) -> None:
    """A fitted classifier with a parameter set out of range afterwards: it answers; its clones cannot fit."""
    x, y, _ = tabular_parts()["members"]
    joblib.dump(LogisticRegression().fit(x, y).set_params(C=-1.0), tmp / "m.joblib")
    cfg["target"] = {"kind": "sklearn", "path": str(tmp / "m.joblib"), "trust_pickle": True}


NAMES = ["cat", "dog", "eel"]


def _sklearn_on_columns(tmp: Path, cfg: dict, columns: list[str]) -> None:
    """A classifier fitted on a data frame with ``columns`` (it remembers them as feature_names_in_)."""
    x, y = blobs(90, 0)
    joblib.dump(LogisticRegression().fit(pd.DataFrame(x, columns=columns), y), tmp / "m.joblib")
    cfg["target"] = {"kind": "sklearn", "path": str(tmp / "m.joblib"), "trust_pickle": True}


def _named_labels(names: list[str], members: list[str] | None = None) -> Setup:
    """Every part's labels as ``names`` (class i is ``names[i]``), the members' as ``members`` if given."""
    return _steps(
        *(
            _table(
                part,
                lambda f, n=(members if part == "members" and members else names): f.assign(
                    label=f.label.map(dict(enumerate(n)))
                ),
            )
            for part in ("members", "non_members", "population", "test")
        )
    )


def _predictions(
    tmp: Path, cfg: dict, *, nan: bool = False, drop: int = 0, probabilities: bool = False
) -> None:
    frames = []
    for x, _, ids in tabular_parts().values():
        frames.append(pd.DataFrame(np.abs(x[:, :3]), columns=["a", "b", "c"]).assign(id=ids))
    frame = pd.concat(frames).iloc[drop:]
    if nan:
        frame.iloc[5, 1] = np.nan
    frame.to_parquet(tmp / "p.parquet")
    output = "probabilities" if probabilities else "logits"
    cfg["target"] = {"kind": "predictions", "path": str(tmp / "p.parquet"), "output": output}


def _image_folders(tmp: Path, cfg: dict, *, test_classes: int = 2, **data) -> None:
    """Image folders with classes cat, dog and eel (the test folder: the first ``test_classes`` of them)."""
    parts = {}
    for seed, part in enumerate(("members", "non_members", "population", "test")):
        classes = ["cat", "dog", "eel"][: test_classes if part == "test" else 3]
        images, labels = class_images(12, seed)
        parts[part] = str(write_image_folder(tmp / part, images, labels % len(classes), classes))
    cfg["data"] = {"kind": "image_folder", **parts, **data}
    cfg["target"] = {"kind": "trained"}


def _unreadable_first_image(tmp: Path, cfg: dict) -> None:
    _image_folders(tmp, cfg, test_classes=3)
    sorted((tmp / "members" / "cat").glob("*.png"))[0].write_bytes(b"not an image")


def _shared_image_folder(tmp: Path, cfg: dict) -> None:
    _image_folders(tmp, cfg, test_classes=3)
    cfg["data"]["non_members"] = cfg["data"]["members"]


def _npz_object_array(tmp: Path, cfg: dict) -> None:
    paths = write_npz(tmp)
    x, y, ids = tabular_parts()["test"]
    np.savez(tmp / "test.npz", x=x.astype(object), y=y, ids=ids)
    cfg["data"] = {"kind": "npz", "ids_key": "ids", **paths}


def _npz_fewer_features(tmp: Path, cfg: dict) -> None:
    paths = write_npz(tmp)
    x, y, ids = tabular_parts()["test"]
    np.savez(tmp / "test.npz", x=x[:, :7], y=y, ids=ids)
    cfg["data"] = {"kind": "npz", "ids_key": "ids", **paths}


def _npz_one_hot_labels(tmp: Path, cfg: dict) -> None:
    paths = write_npz(tmp)
    x, y, ids = tabular_parts()["test"]
    np.savez(tmp / "test.npz", x=x, y=np.eye(3, dtype=np.int64)[y], ids=ids)
    cfg["data"] = {"kind": "npz", "ids_key": "ids", **paths}


def _cifar(tmp: Path, cfg: dict, *, drop: str | None = None, members: int = 20, mean: int = 3) -> None:
    folder = write_cifar_batches(tmp / "cifar-10-batches-py", n_per_batch=20)
    if drop:
        (folder / drop).unlink()
    cfg["data"] = {
        "kind": "cifar10",
        "root": str(tmp),
        "members": {"pool": "train", "count": members},
        "non_members": {"pool": "train", "count": 20},
        "population": {"pool": "train"},
        "test": {"pool": "test"},
        "transform": {"mean": [0.5] * mean, "std": [0.25] * mean},
    }
    cfg["target"] = {"kind": "trained"}


def _text_data(tmp: Path, cfg: dict) -> None:
    for part in ("members", "non_members", "population", "test"):
        _edit_table(cfg, part, lambda f: f.assign(f0=f.id + " text"))
    cfg["target"] = {"kind": "callable", "function": "tests.audit_core.models:text_logits"}


def _reference_outside_population(tmp: Path, cfg: dict) -> None:
    _, _, ids = tabular_parts()["members"]
    frame = pd.DataFrame(
        {"id": ids, "a": 0.0, "b": 1.0, "c": 2.0, "in_training": np.arange(len(ids)) % 2 == 0}
    )
    frame.to_parquet(tmp / "reference.parquet")
    cfg["shadow"] = {"kind": "predictions", "path": str(tmp / "reference.parquet")}


@dataclass(frozen=True)
class Bad:
    """One bad input: how to break the valid audit, and a fragment of the sentence the user must see."""

    name: str
    setup: Setup
    expected: str
    within_s: float = 10.0  # how long the refusal may take (measured: the JUnit property refusal_s)


def _set(section: str, **fields) -> Setup:
    def setup(tmp: Path, cfg: dict) -> None:
        cfg[section] = {
            **cfg[section],
            **{k: v.format(tmp=tmp) if isinstance(v, str) else v for k, v in fields.items()},
        }

    return setup


def _reference_table(edit: Callable[[pd.DataFrame], pd.DataFrame]) -> Setup:
    def setup(tmp: Path, cfg: dict) -> None:
        path = write_reference_predictions(tmp / "references.parquet", edit=edit)
        cfg.update(reference_models=4, references={"kind": "predictions", "path": path})

    return setup


def _top(**fields) -> Setup:
    return lambda tmp, cfg: cfg.update(fields)


def _table(part: str, edit: Callable[[pd.DataFrame], pd.DataFrame]) -> Setup:
    return lambda tmp, cfg: _edit_table(cfg, part, edit)


def _closed_port() -> int:
    with socket.socket() as sock:  # a port the system just handed out and nothing listens on
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


CASES = [
    Bad(
        "a table written with its pandas index",
        _table("members", lambda f: f.rename_axis("Unnamed: 0").reset_index()),
        "data.members: '{tmp}/members.parquet' begins with a column without a name ('Unnamed: 0'), the row "
        "index pandas writes unless to_csv(index=False); expected named feature columns",
    ),
    Bad(
        "a folder without Parquet files",
        _steps(_write("members/part-0.csv", b"f0,label\n1,0\n"), _set("data", members="{tmp}/members")),
        "data.members: folder '{tmp}/members' holds no Parquet file (only ['part-0.csv']); expected a "
        "Parquet or CSV table, or a folder of Parquet files",
    ),
    Bad(
        "a data part not given",
        lambda t, c: c["data"].pop("population"),
        "required field 'data.population' is missing; expected further records of the members' distribution",
    ),
    Bad(
        "missing model file",
        _target(kind="onnx", path="{tmp}/nope.onnx"),
        "file '{tmp}/nope.onnx' does not exist; expected an ONNX model file",
    ),
    Bad(
        "corrupt ONNX model",
        _steps(_write("m.onnx", b"not a model"), _target(kind="onnx", path="{tmp}/m.onnx")),
        "target.path: '{tmp}/m.onnx' is not a readable ONNX model",
    ),
    Bad(
        "corrupt TorchScript file",
        _steps(_write("m.pt", b"PK junk"), _target(kind="torch_script", path="{tmp}/m.pt", trust_code=True)),
        "is not a readable TorchScript file",
    ),
    Bad(
        "pickle without consent",
        _steps(_write("m.pkl", b"\x80\x04N."), _target(kind="sklearn", path="{tmp}/m.pkl")),
        "'{tmp}/m.pkl' is a pickle, which runs arbitrary code when loaded; set target.trust_pickle: true",
    ),
    Bad(
        "unknown skops type",
        _untrusted_skops(doubled),
        "contains types that are not trusted: ['tests.audit_core.models.doubled']; list them in",
    ),
    Bad(
        "numpy function in a skops file",
        _untrusted_skops(np.nan_to_num),
        "contains types that are not trusted: ['numpy.nan_to_num']; list them in",
    ),
    Bad(
        "state dict holding a pickled module",
        _pickled_module,
        "cannot be loaded with weights_only=True: it holds more than tensors",
    ),
    Bad(
        "state dict of another architecture",
        _mismatched_state_dict,
        "does not fit torch.nn:Linear: missing keys ['bias', 'weight']",
    ),
    Bad(
        "callable that cannot be imported",
        _target(kind="callable", function="nope.module:predict"),
        "target.function: module 'nope.module' cannot be imported",
    ),
    Bad(
        "NaN logits from the model",
        _target(kind="callable", function="tests.audit_core.models:nan_logits"),
        "members set ({tmp}/members.parquet) gave NaN or infinite logits for 16 of 16 records",
    ),
    Bad(
        "model that calls sys.exit",
        _target(kind="callable", function="tests.audit_core.models:exits"),
        "target.function tests.audit_core.models:exits raised SystemExit on records of shape (8,)",
    ),
    Bad(
        "model that never answers",
        _target(kind="callable", function="tests.audit_core.models:never_answers", timeout_s=0.5),
        "gave no answer for 16 records within target.timeout_s = 0.5 s; expected a model that answers",
    ),
    Bad(
        "model whose class count changes within one query",
        _target(kind="callable", function="tests.audit_core.models:classes_by_batch", batch_size=5),
        "returned 3 columns for some batches of one query and 2 for others; expected the same classes",
    ),
    Bad(
        "NaN in a predictions table",
        lambda t, c: _predictions(t, c, nan=True),
        "has 1 row with NaN or infinite outputs (e.g. column 'b' of its row 5, counted from 0)",
    ),
    Bad(
        "model returning probabilities where logits are expected",
        _target(kind="callable", function="tests.audit_core.models:softmax_scores"),
        "returned probabilities where logits were expected (all 16 rows lie in [0, 1] and sum to 1); set "
        "output: probabilities",
    ),
    Bad(
        "references' training function returning probabilities where the target returns logits",
        _steps(
            _network_without_training,
            _top(
                references={"kind": "function", "function": "tests.audit_core.models:train_softmax_mlp"},
                reference_models=4,
            ),
        ),
        "A model trained by tests.audit_core.models:train_softmax_mlp returned probabilities where logits",
    ),
    Bad(
        "probabilities that do not sum to one",
        lambda t, c: _predictions(t, c, probabilities=True),
        "expected probabilities, or set output: logits",
    ),
    Bad(
        "predictions missing audit records",
        lambda t, c: _predictions(t, c, drop=3),
        "has no row for 3 of 60 queried records (e.g. the id of row 0 of the set queried, counted from 0)",
    ),
    Bad(
        "model has fewer classes than the labels",
        _target(kind="callable", function="tests.audit_core.models:two_class_logits"),
        "members set ({tmp}/members.parquet) gives 2 class scores per record but the data have 3 classes "
        "(labels 0..2); expected labels that index the model's outputs, 0..1",
    ),
    Bad(
        "a scikit-learn model that never learned a class of the labels",
        lambda t, c: _sklearn_model(t, c, 8, 2),
        "target.path '{tmp}/m.joblib' has classes [0, 1] but the data's labels are 3 classes, 0..2: the "
        "model never learned class 2; expected labels of the classes it was trained on: leave out the "
        "records of the others (they cannot be members), or make labels counted from 1 start at 0.",
    ),
    Bad(
        "labels counted from 1 for a model of classes 0..k-1",
        _steps(_named_labels([1, 2, 3]), lambda t, c: _sklearn_model(t, c, 8, 3)),
        "has classes [0, 1, 2] but the data's labels are 4 classes, 0..3: the model never learned class 3; "
        "expected labels of the classes it was trained on: leave out the records of the others (they cannot "
        "be members), or make labels counted from 1 start at 0.",
    ),
    Bad(
        "data lacking one of the model's classes",
        _steps(_named_labels([0, 1, 1]), lambda t, c: _sklearn_model(t, c, 8, 3)),
        "gives 3 class scores per record but the data have 2 classes (labels 0..1); set data.n_classes: 3 if "
        "the data lack some of the model's classes.",
    ),
    Bad(
        "model expects other features",
        lambda t, c: _sklearn_model(t, c, 5, 3),
        "expects records of shape (5,) but the data's records have shape (8,)",
    ),
    Bad(
        "labels out of range",
        _steps(
            _set("data", n_classes=3),
            _table("test", lambda f: f.assign(label=f.label.where(f.index != 4, 7))),
        ),
        "has label 7, outside the 3 classes [0, 2]",
    ),
    Bad(
        "labels -1 and 1 without data.classes",
        _table("members", lambda f: f.assign(label=f.label.replace({0: -1}))),
        "has label -1, outside the 3 classes [0, 2]; expected integer class indices (set data.n_classes if "
        "some classes are absent); a negative label is a class name: list the names in data.classes, in the "
        "order of the model's outputs (e.g. [-1, 0, 1, 2])",
    ),
    Bad(
        "labels that are not integers",
        _table("members", lambda f: f.assign(label=f.label.map(dict(enumerate(NAMES))))),
        "of '{tmp}/members.parquet' must be integer class indices 0..k-1 (list the class names in "
        "data.classes, in the model's order); found '",
    ),
    Bad(
        "a target whose clones cannot be fitted",
        _clone_failing,
        "A clone of the target (LogisticRegression) could not be fitted on 60 of the data's records: "
        "InvalidParameterError: The 'C' parameter",
    ),
    Bad(
        "a missing label",
        _table("test", lambda f: f.assign(label=f.label.astype(float).where(f.index != 6, np.nan))),
        "Labels in column 'label' of '{tmp}/test.parquet' must be integer class indices 0..k-1; found a "
        "missing label at row 6, counted from 0.",
    ),
    Bad(
        "labels named outside data.classes",
        _steps(_set("data", classes=NAMES), _named_labels(NAMES, members=["cat", "dog", "fox"])),
        "Labels in column 'label' of '{tmp}/members.parquet' must be names in data.classes ['cat', 'dog', "
        "'eel']; found 'fox'",
    ),
    Bad("class names repeated", _set("data", classes=["cat", "cat", "eel"]), "'cat' appears more than once"),
    Bad(
        "class names and n_classes disagree",
        _set("data", classes=NAMES, n_classes=4),
        "n_classes (4) differs from the 3 names in classes; give one of them",
    ),
    Bad(
        "model classes are names the data do not list",
        lambda t, c: _sklearn_model(t, c, 8, 3, names=NAMES),
        "Labels in column 'label' of '{tmp}/members.parquet' must be names in the classes_ of target.path "
        "'{tmp}/m.joblib' ['cat', 'dog', 'eel']; found '0' at row 3, counted from 0.",
    ),
    Bad(
        "model fitted on a column the tables lack",
        lambda t, c: _sklearn_on_columns(t, c, ["F0", *FEATURES[1:]]),
        "data.members: table '{tmp}/members.parquet' has no column 'F0', one of the 8 columns target.path "
        "'{tmp}/m.joblib' was fitted on; its columns are ",
    ),
    Bad(
        "data.features naming a column the tables lack",
        _set("data", features=[*FEATURES[:-1], "f99"]),
        "data.members: table '{tmp}/members.parquet' has no column 'f99'; its columns are ",
    ),
    Bad(
        "model fitted on columns in another order than data.features",
        _steps(lambda t, c: _sklearn_on_columns(t, c, FEATURES[::-1]), _set("data", features=FEATURES)),
        f"target.path '{{tmp}}/m.joblib' was fitted on the columns {FEATURES[::-1][:6]} but the data's "
        f"features are {FEATURES[:6]}; set data.features to the model's columns, in its order",
    ),
    Bad(
        "data.classes in another order than the model's",
        _steps(
            lambda t, c: _sklearn_model(t, c, 8, 3, names=NAMES),
            _set("data", classes=["dog", "cat", "eel"]),
            _named_labels(["dog", "cat", "eel"]),
        ),
        "has classes ['cat', 'dog', 'eel'] but data.classes lists ['dog', 'cat', 'eel']; expected the "
        "model's classes in the model's order",
    ),
    Bad(
        "members and non-members share ids",
        _table("non_members", lambda f: f.assign(id=f.id.where(f.index > 0, "r0"))),
        "1 record ids are both members and non-members (e.g. the id of row 0 of the non-members, counted "
        "from 0); expected disjoint sets.",
    ),
    Bad(
        "duplicate ids within a part",
        _table("test", lambda f: f.assign(id="same")),
        "Record ids in the test set",
    ),
    Bad(
        "members and non-members share identical rows",
        lambda t, c: (
            pd.read_parquet(c["data"]["members"])
            .assign(id=lambda f: "copy" + f.id)
            .to_parquet(c["data"]["non_members"])
        ),
        "60 records of the non_members set",
    ),
    Bad("empty set", _table("test", lambda f: f.iloc[:0]), "The test set ({tmp}/test.parquet) is empty"),
    Bad(
        "a single member record",
        _table("members", lambda f: f.iloc[:1]),
        "The members set ({tmp}/members.parquet) has only 1 record; an audit needs at least 10 members, "
        "non-members and test records, since with fewer the 95% interval of an AUC spans more than ±0.26",
    ),
    Bad(
        "a null record id",
        _table("members", lambda f: f.assign(id=f.id.where(f.index != 3, None))),
        "data.members: table '{tmp}/members.parquet' has no id in column 'id' at row 3",
    ),
    Bad(
        "one label of 10,000,000",
        _table("test", lambda f: f.assign(label=f.label.where(f.index != 4, 10_000_000))),
        "The test set ({tmp}/test.parquet) has label 10000000, which would make 10000001 classes, more than "
        "the 450 records of all parts",
    ),
    Bad(
        "missing features a model does not take",
        _table("members", lambda f: f.assign(f0=f.f0.where(f.index != 0, np.nan))),
        "target.path '{tmp}/model.skops' raised ValueError on records of shape (8,) (Input X contains NaN); "
        "the records have missing values (NaN), which this model does not take: impute them as its training "
        "data were.",
    ),
    Bad(
        "missing features for a network dynaudit trains",
        _steps(
            _target(kind="trained"),
            _table("population", lambda f: f.assign(f4=f.f4.where(f.index != 7, np.nan))),
        ),
        "target.kind 'trained' trains a torch network, which cannot take missing values, but the "
        "population set ({tmp}/population.parquet) has NaN features in 1 records (e.g. its row 7, counted "
        "from 0); impute them, or audit a model that takes them",
    ),
    Bad(
        "missing features a network answers NaN on",
        _steps(
            _network_without_training,
            _table("members", lambda f: f.assign(f0=f.f0.where(f.index != 0, np.nan))),
        ),
        "The target on the members set ({tmp}/members.parquet) gave NaN or infinite logits for 1 of 16 "
        "records (1 of them have missing (NaN) features: impute them as the model's training data were); "
        "expected finite values.",
    ),
    Bad(
        "infinite features",
        _table("test", lambda f: f.assign(f3=f.f3.where(f.index != 0, -np.inf))),
        "The test set ({tmp}/test.parquet) has infinite features in 1 records (e.g. its row 0, counted from "
        "0); expected finite numbers, or NaN for a missing value.",
    ),
    Bad(
        "a number with a decimal comma in one part's number column",
        _table("population", lambda f: f.assign(f1=f.f1.astype(str).where(f.index != 3, "7,5"))),
        "Column 'f1' holds text in data.population ('{tmp}/population.parquet', first at row 3, counted from "
        "0, reads '7,5') but numbers in data.members ('{tmp}/members.parquet'); expected numbers in every "
        "part (with a decimal point,",
    ),
    Bad(
        "a missing-value marker with a letter, not quoted",
        _table("members", lambda f: f.assign(f2=f.f2.astype(str).where(f.index != 5, "n/a"))),
        "Column 'f2' holds text in data.members ('{tmp}/members.parquet', first at row 5, counted from 0) "
        "but numbers in data.non_members",
    ),
    Bad(
        "a string among a model's numeric features in every part",
        _steps(
            *(
                _table(p, lambda f: f.assign(f1=f.f1.astype(str)))
                for p in ("members", "non_members", "population", "test")
            ),
            _table("population", lambda f: f.assign(f1=f.f1.where(f.index != 0, "7,5"))),
        ),
        "(could not convert string to float: '7,5'); expected records",
    ),
    Bad(
        "one class only",
        lambda t, c: [
            _edit_table(c, p, lambda f: f.assign(label=0))
            for p in ("members", "non_members", "population", "test")
        ],
        "Every record of the table data has label 0; an audit needs at least two classes",
    ),
    Bad(
        "parts with different feature counts",
        _npz_fewer_features,
        "Records in the test set ({tmp}/test.npz) have shape (7,) but members have (8,)",
    ),
    Bad(
        "image folder with a class missing",
        _image_folders,
        "data.test: folder '{tmp}/test' has no class folder 'eel', which the members folder has",
    ),
    Bad(
        "unreadable image among the probed",
        _unreadable_first_image,
        "data.members: '{tmp}/members/cat/0000.png' is not a readable image; expected an image file",
    ),
    Bad(
        "image labels outside data.n_classes",
        lambda t, c: _image_folders(t, c, test_classes=3, n_classes=2),
        "The members set ({tmp}/members) has label 2, outside the 2 classes [0, 1]",
    ),
    Bad(
        "members and non-members from one image folder",
        _shared_image_folder,
        "12 record ids are both members and non-members (e.g. the id of row 0 of the non-members, counted "
        "from 0); data.members and data.non_members both name '{tmp}/members'",
    ),
    Bad(
        "Parquet missing a named column",
        _set("data", label="y"),
        "data.members: table '{tmp}/members.parquet' has no column 'y'",
    ),
    Bad(
        "missing data file",
        _set("data", test="{tmp}/nope.csv"),
        "data.test: file '{tmp}/nope.csv' does not exist; expected a Parquet or CSV table",
    ),
    Bad(
        "CSV separated by semicolons",
        _steps(_write("t.csv", b"a;b;label\n0,5;1,25;0\n"), _set("data", test="{tmp}/t.csv")),
        "data.test: '{tmp}/t.csv' has no comma in its header line ('a;b;label'); its fields are separated by "
        "semicolons; expected a comma-separated table with a header row and '.' as the decimal point",
    ),
    Bad(
        "empty CSV",
        _steps(_write("t.csv", b""), _set("data", test="{tmp}/t.csv")),
        "data.test: '{tmp}/t.csv' is not a readable csv table (EmptyDataError)",
    ),
    Bad(
        "unknown table format",
        _steps(_write("t.xlsx", b""), _set("data", test="{tmp}/t.xlsx")),
        "data.test: '{tmp}/t.xlsx' has an unknown format '.xlsx'",
    ),
    Bad(
        "NPZ with pickled objects",
        _npz_object_array,
        "holds pickled Python objects, which dynaudit does not load",
    ),
    Bad(
        "NPZ with one-hot labels",
        _npz_one_hot_labels,
        "'y' of shape (90, 3); expected (n, ...) records and (n,) labels (its labels are one-hot rows: save "
        "y.argmax(axis=1)).",
    ),
    Bad(
        "CIFAR-10 folder missing a batch",
        lambda t, c: _cifar(t, c, drop="data_batch_3"),
        "does not exist; expected CIFAR-10 batch 'data_batch_3'",
    ),
    Bad(
        "pool too small for the parts",
        lambda t, c: _cifar(t, c, members=95),
        "data.non_members.count: asks for 20 records of pool 'train', but 5 of its 100 remain",
    ),
    Bad(
        "image transform for another channel count",
        lambda t, c: _cifar(t, c, mean=2),
        "the image transform does not fit images of shape (3, 32, 32)",
    ),
    Bad(
        "text records for a trained shadow",
        _text_data,
        "shadow.kind 'trained' trains a torch network on numeric features, but the table data",
    ),
    Bad(
        "reference predictions for audited records",
        _reference_outside_population,
        "has 60 ids that are not population records (e.g. the id of its row 0, counted from 0)",
    ),
    Bad(
        "no attack can run",
        _top(shadow={"kind": "none"}, reference_models=0, attacks=["loss", "rmia"]),
        "No requested attack can run (loss needs shadow outputs, rmia needs reference models); give a shadow",
    ),
    Bad(
        "population too small for the shadow",
        _table("population", lambda f: f.iloc[:10]),
        "The population set has 10 rows, too few to train a shadow model on one half and hold out the other",
    ),
    Bad(
        "clone references of a state dict target",
        _steps(_mismatched_state_dict, _top(references={"kind": "clone"})),
        "references.kind 'clone' needs a sklearn target, but target.kind is 'torch_state_dict'",
    ),
    Bad(
        "auto references of an ONNX target",
        _steps(_target(kind="onnx", path="{tmp}/m.onnx"), _top(references={"kind": "auto"})),
        "references.kind 'auto' cannot know how the target (target.kind 'onnx') was trained, and models "
        "unlike the target understate its risk",
    ),
    Bad(
        "training function that cannot be imported",
        _top(references={"kind": "function", "function": "nope.module:train"}),
        "references.function: module 'nope.module' cannot be imported",
    ),
    Bad(
        "training function returning no model",
        _top(references={"kind": "function", "function": "tests.audit_core.models:train_nothing"}),
        "references.function: tests.audit_core.models:train_nothing returned a str; expected a classifier "
        "(classes_ and predict_proba, decision_function or predict), a torch.nn.Module, or a callable",
    ),
    Bad(
        "reference table missing a model",
        _reference_table(lambda f: f[f.model != 3]),
        "column 'model' holds models ['0', '1', '2']; expected the integers 0..3, one per reference model",
    ),
    Bad(
        "reference table missing a record",
        _reference_table(lambda f: f[~((f.model == 1) & (f.id == "r7"))]),
        "model 1 has no row for 1 of the 120 audit points (e.g. the id of row 7 of the members, counted from "
        "0); expected a row for every member",
    ),
    Bad(
        "audit point IN for every model",
        _reference_table(lambda f: f.assign(in_training=f.in_training | (f.id == "r0"))),
        "1 of the 120 audit points are IN for every model (e.g. row 0 of the members, counted from 0); "
        "expected each audit point IN for some",
    ),
    Bad(
        "unknown attack",
        _top(attacks=["loss", "lira2"]),
        "field 'attacks' is invalid: unknown attack 'lira2'; expected one of",
    ),
    Bad(
        "a negative hidden size",
        _top(recipe={**RECIPE, "hidden_sizes": [-5]}),
        "field 'recipe.hidden_sizes.0' = -5 is invalid: Input should be greater than or equal to 1",
    ),
    Bad(
        "a value of the wrong type in attack_params",
        _top(attacks=["loss", "rmia"], attack_params={"rmia": {"gamma": "big"}}),
        "attack_params.rmia.gamma = 'big' is a str; expected float",
    ),
    Bad(
        "an attacker knowledge listed twice",
        _top(knowledge=["naive", "adaptive", "naive"]),
        "field 'knowledge' is invalid: lists an attacker knowledge more than once",
    ),
    Bad(
        "a defense listed twice",
        _top(defenses=[{"name": "temperature"}, {"name": "temperature"}]),
        "defenses.1 repeats defenses.0 (temperature",
    ),
    Bad(
        "unknown defense",
        _top(defenses=[{"name": "dp_sgd"}]),
        "field 'defenses.0.name' = 'dp_sgd' is invalid: expected one of 'dynanoise', 'hamp'",
    ),
    Bad(
        "memguard without a shadow",
        _top(shadow={"kind": "none"}, defenses=[{"name": "memguard"}]),
        "defenses.0 (memguard) needs a shadow model's outputs on its in/out records",
    ),
    Bad(
        "tuning split leaves a side empty",
        _top(tune={"tuning_fraction": 0.001}),
        "points, too few to split into tuning and evaluation parts at tune.tuning_fraction = 0.001",
    ),
    Bad(
        "unknown target kind",
        _target(kind="keras", path="m.h5"),
        "field 'target.kind' = 'keras' is invalid: expected one of 'trained', 'torch_script'",
    ),
    Bad(
        "run name with path separators",
        _top(run_name="../escape"),
        "field 'run_name' = '../escape' is invalid: must be 1-100 letters",
    ),
    Bad(
        "process trainer on Dask",
        _top(trainer="processes", runner={"kind": "dask", "n_workers": 2}),
        "trainer 'processes' cannot run on Dask workers, which may not start processes of their own",
    ),
    Bad(
        "Dask scheduler not answering",
        _top(runner={"kind": "dask", "address": f"tcp://127.0.0.1:{_closed_port()}"}),
        "runner.address: no Dask scheduler answers at tcp://127.0.0.1:",
    ),
    Bad(
        "output directory not writable",
        _steps(_write("file", b""), _top(output_dir="{tmp}/file/out")),
        "Output directory '{tmp}/file/out' cannot be created: '{tmp}/file' is not a folder",
    ),
    Bad(
        "a 300-character output folder name",
        _top(output_dir="{tmp}/" + "o" * 300),
        "has a folder name of 300 bytes; this file system allows at most 255 per name",
    ),
    Bad(
        "a secret named by an unset environment variable",
        _top(id_salt={"env": "DYNAUDIT_TEST_UNSET_SALT"}),
        "id_salt names environment variable DYNAUDIT_TEST_UNSET_SALT, which is not set or empty",
    ),
    Bad(
        "a DynaNoise key named by an unset environment variable",
        _top(
            defenses=[{"name": "dynanoise", "noise_mode": "per_input", "key": {"env": "DYNAUDIT_TEST_UNSET"}}]
        ),
        "defenses.0.key names environment variable DYNAUDIT_TEST_UNSET, which is not set or empty",
    ),
    Bad(
        "cache_dir pointing at a file",
        _steps(_write("file", b""), lambda tmp, cfg: cfg.update(cache_dir=str(tmp / "file"))),
        "cache_dir '{tmp}/file' cannot be created: '{tmp}/file' is not a folder",
    ),
]


def _must_not_run(*_: object) -> None:
    raise AssertionError("the input check let a bad input through to the flow")


def _files(folder: Path) -> set[Path]:
    return set(folder.rglob("*"))


def test_the_valid_base_audit_passes_the_input_check(tmp_path):
    check_inputs(config(tmp_path, **_base(tmp_path)))


def test_a_clone_that_needs_more_records_than_the_probe_passes_the_input_check(tmp_path):
    """Cross-validated calibration in 12 folds needs 12 records of each class: the probe's 32 audit points
    have fewer, the 60 members enough, so the check fits the clone on the members and lets it through."""
    cfg = _base(tmp_path)
    x, y, _ = tabular_parts()["members"]
    joblib.dump(CalibratedClassifierCV(LogisticRegression(), cv=12).fit(x, y), tmp_path / "m.joblib")
    cfg["target"] = {"kind": "sklearn", "path": str(tmp_path / "m.joblib"), "trust_pickle": True}
    probe = config(tmp_path, **cfg)
    sample = probe_audit_data(probe).sample.audit_points()
    with pytest.raises(ValueError, match="12"):
        CalibratedClassifierCV(LogisticRegression(), cv=12).fit(sample.features, sample.labels)
    check_inputs(probe)


def test_query_attacks_alone_pass_the_input_check_with_a_shadow_model_of_the_targets_kind(tmp_path):
    """The label-only query attacks query a shadow model: a clone of the scikit-learn target (shadow.kind
    auto) is one, so the check lets them run alone; without a shadow it refuses them, saying so."""
    base = _base(tmp_path)
    check_inputs(config(tmp_path, **base, attacks=["boundary", "augmentation"]))
    with pytest.raises(
        AuditInputError,
        match=r"^No requested attack can run \(boundary needs a target and a shadow model it can query",
    ):
        check_inputs(config(tmp_path, **base, attacks=["boundary"], shadow={"kind": "none"}))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_one_sentence_exit_2_and_nothing_written(
    case, tmp_path, capsys, monkeypatch, record_property
):
    monkeypatch.setattr(cli, "_run", _must_not_run)
    cfg = _base(tmp_path)
    case.setup(tmp_path, cfg)
    cfg = {**chosen_models(cfg), **cfg}
    cfg["output_dir"] = cfg.get("output_dir", "{tmp}/out").format(tmp=tmp_path)
    (tmp_path / "audit.yaml").write_text(yaml.safe_dump(cfg))
    before = _files(tmp_path)

    started = time.perf_counter()
    code = main(["audit", str(tmp_path / "audit.yaml")])
    took = time.perf_counter() - started
    record_property("refusal_s", round(took, 2))

    stderr = capsys.readouterr().err
    assert took < case.within_s, f"refused after {took:.1f} s, later than {case.within_s} s"
    assert code == 2, stderr
    assert case.expected.format(tmp=tmp_path) in stderr
    assert stderr.startswith("dynaudit: ") and stderr.endswith(".\n") and stderr.count("\n") == 1
    assert _files(tmp_path) == before, "a rejected audit must write nothing"
    assert not (tmp_path / "out").exists()


def test_a_missing_relative_path_names_the_working_folder_it_was_looked_for_in(tmp_path, monkeypatch):
    """A config's relative paths are read from the folder dynaudit runs in (not the config's): a missing
    one says which folder that was."""
    cfg = _base(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    cfg["data"]["test"] = "test.parquet"  # beside the config, not in the working folder
    with pytest.raises(AuditInputError) as refused:
        check_inputs(config(tmp_path, **cfg))
    assert str(refused.value) == (
        f"data.test: file 'test.parquet' does not exist in the working folder '{elsewhere}'; expected a "
        "Parquet or CSV table."
    )


def test_the_demo_refuses_an_unwritable_output_dir_at_once(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cli, "_run", _must_not_run)
    (tmp_path / "file").write_bytes(b"")
    started = time.perf_counter()
    code = main(["demo", "--output-dir", str(tmp_path / "file" / "out")])
    took = time.perf_counter() - started
    stderr = capsys.readouterr().err
    assert code == 2 and took < 5, (took, stderr)
    assert stderr == (
        f"dynaudit: Output directory '{tmp_path}/file/out' cannot be created: '{tmp_path}/file' is not a "
        "folder.\n"
    )

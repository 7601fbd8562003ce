"""Which types in a skops file load without ``target.trusted_types``: library classes yes, functions never."""

import builtins
import os

import numpy as np
import pytest
import scipy.io
import skops.io as sio
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from audit_core.config import parse_config
from audit_core.core.errors import TargetError
from audit_core.data import Split
from audit_core.targets import open_target
from audit_core.targets.sklearn import _library_class


@pytest.fixture(scope="module")
def breast_cancer() -> tuple[np.ndarray, np.ndarray]:
    return load_breast_cancer(return_X_y=True)


def _open(path, **fields):
    return open_target(parse_config({"target": {"kind": "sklearn", "path": str(path), **fields}}).target)


@pytest.mark.parametrize(
    ("model", "library_type"),
    [
        (RandomForestClassifier(n_estimators=10, random_state=0), "sklearn.tree._tree.Tree"),
        (
            MLPClassifier(hidden_layer_sizes=(16,), max_iter=300, random_state=0),
            "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
        ),
    ],
)
def test_scikit_learn_models_load_without_trusted_types(breast_cancer, tmp_path, model, library_type):
    x, y = breast_cancer
    model.fit(x, y)
    path = tmp_path / "model.skops"
    sio.dump(model, path)
    assert library_type in sio.get_untrusted_types(file=path)  # skops alone would refuse it
    target = _open(path)
    records = Split(x[:40], y[:40], np.array([f"r{i}" for i in range(40)]))
    np.testing.assert_allclose(np.exp(target.query(records)), model.predict_proba(x[:40]), atol=1e-9)


@pytest.mark.parametrize("func", [np.load, scipy.io.loadmat, builtins.eval, os.system])
def test_library_and_builtin_functions_need_trusted_types(tmp_path, func):
    model = make_pipeline(FunctionTransformer(func), LogisticRegression())
    path = tmp_path / "danger.skops"
    sio.dump(model, path)
    [name] = sio.get_untrusted_types(file=path)  # an unfitted pipeline: the function is the only one
    with pytest.raises(TargetError, match=f"contains types that are not trusted: \\['{name}'\\]; list them"):
        _open(path)


@pytest.mark.parametrize(
    ("name", "trusted"),
    [
        ("sklearn.tree._tree.Tree", True),
        ("numpy.random._generator.Generator", True),
        ("numpy.dtypes.Float64DType", True),
        ("scipy.sparse._csr.csr_matrix", True),
        ("numpy.memmap", False),
        ("numpy.load", False),
        ("scipy.io.matlab._mio.loadmat", False),
        ("sklearn_evil.Tree", False),
        ("numpyx.Generator", False),
        ("sklearn.no_such_module.Thing", False),
        ("builtins.eval", False),
    ],
)
def test_only_classes_of_the_named_library_are_trusted(name, trusted):
    assert _library_class(name) is trusted

"""The one line that names the clones' estimator in the manifest and the report: scikit-learn's own repr
where scikit-learn writes one whole, and only the parameters that were set for estimators whose ``__init__``
takes ``**kwargs`` (XGBoost's), where that repr lists every parameter and is cut before the ones set."""

import numpy as np
import pytest
import sklearn
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier, StackingClassifier, VotingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from audit_core.training.estimator_text import LONGEST_VALUE, estimator_text
from audit_core.training.kinds import CloneModels


class _Booster(BaseEstimator):
    """XGBoost's layout: the base class's ``__init__`` names every parameter, all ``None`` or NaN."""

    def __init__(self, *, max_depth=None, n_estimators=None, missing=np.nan, callbacks=None, **kwargs):
        self.max_depth = max_depth
        self.n_estimators = n_estimators
        self.missing = missing
        self.callbacks = callbacks


class _BoostedClassifier(ClassifierMixin, _Booster):
    """...and the classifier's takes its own and passes the rest as ``**kwargs``; ``get_params`` gives all."""

    def __init__(self, *, objective="binary", **kwargs):
        super().__init__(**kwargs)
        self.objective = objective

    def get_params(self, deep=True):
        names = {*_Booster._get_param_names(), *type(self)._get_param_names()}
        return {name: getattr(self, name) for name in sorted(names)}


SKLEARN_ESTIMATORS = [
    LogisticRegression(),
    RandomForestClassifier(n_estimators=20, random_state=0, class_weight={0: 1, 1: 2}),
    make_pipeline(StandardScaler(), LogisticRegression(C=0.5, max_iter=50)),
    make_pipeline(
        ColumnTransformer(
            [("num", StandardScaler(), ["a", "b"]), ("cat", OneHotEncoder(handle_unknown="ignore"), ["c"])]
        ),
        RandomForestClassifier(max_depth=4),
    ),
    VotingClassifier([("forest", RandomForestClassifier()), ("linear", LogisticRegression())], voting="soft"),
    StackingClassifier(
        [("forest", RandomForestClassifier(n_estimators=5))], final_estimator=LogisticRegression()
    ),
]


@pytest.mark.parametrize("estimator", SKLEARN_ESTIMATORS, ids=lambda estimator: type(estimator).__name__)
def test_a_scikit_learn_estimator_reads_as_its_own_repr_on_one_line(estimator):
    with sklearn.config_context(print_changed_only=True):
        expected = " ".join(repr(estimator).split())
    assert "..." not in expected  # scikit-learn wrote it whole
    assert estimator_text(estimator) == expected


def test_an_estimator_taking_kwargs_names_only_the_parameters_set():
    booster = _BoostedClassifier(n_estimators=300, max_depth=6)
    listed = " ".join(repr(booster).split())
    assert "callbacks=None" in listed and "missing=nan" in listed  # scikit-learn's repr: every parameter

    assert estimator_text(booster) == "_BoostedClassifier(max_depth=6, n_estimators=300)"
    assert estimator_text(_BoostedClassifier(objective="multi", missing=0.0)) == (
        "_BoostedClassifier(missing=0.0, objective='multi')"
    )
    assert estimator_text(make_pipeline(StandardScaler(), booster)) == (
        "Pipeline(steps=[('standardscaler', StandardScaler()), "
        "('_boostedclassifier', _BoostedClassifier(max_depth=6, n_estimators=300))])"
    )
    describe = CloneModels(estimator=booster, n_classes=2).describe()
    assert describe == "clones of _BoostedClassifier(max_depth=6, n_estimators=300)"


def test_a_long_value_is_shortened_and_a_callable_named():
    columns = [f"feature_{index}" for index in range(2000)]
    text = estimator_text(ColumnTransformer([("num", StandardScaler(), columns)]))
    shown = text.split("StandardScaler(), ")[1].removesuffix(")])")
    assert (
        len(shown) == LONGEST_VALUE
        and shown.startswith("['feature_0', 'feature_1'")
        and shown.endswith("...")
    )

    def shrink(values):
        return values

    assert "func=test_a_long_value_is_shortened_and_a_callable_named.<locals>.shrink" in estimator_text(
        sklearn.preprocessing.FunctionTransformer(func=shrink)
    )

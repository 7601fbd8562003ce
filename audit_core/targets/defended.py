"""A scikit-learn classifier served behind the DynaNoise its audit chose (:mod:`audit_core.defenses.serving`
ships torch networks).

>>> from sklearn.datasets import load_iris
>>> from sklearn.linear_model import LogisticRegression
>>> from audit_core.defenses import DynaNoise
>>> x, y = load_iris(return_X_y=True)
>>> served = DefendedClassifier(LogisticRegression(max_iter=500).fit(x, y), DynaNoise(), seed=0)
>>> served.predict_proba(x[:2]).sum(axis=1).round(12).tolist()
[1.0, 1.0]
"""

from typing import Any

import numpy as np

from audit_core.defenses import DynaNoise
from audit_core.targets.base import as_logits
from audit_core.targets.sklearn import model_scores, scores_kind


class DefendedClassifier:
    """A fitted scikit-learn classifier followed by DynaNoise, as the audit evaluated it: ``predict_proba``
    answers DynaNoise's probabilities on the logits the audit read (:func:`~audit_core.targets.base.as_logits`
    of ``predict_proba``, or the margins of ``decision_function``), ``predict`` their most likely class.
    Records go in as the classifier takes them (an array, a data frame of its columns, texts). ``per_query``
    noise is drawn from a generator seeded with ``seed``; ``per_input`` noise is keyed by the logits, and a
    classifier holding the key is never pickled."""

    def __init__(self, estimator: Any, defense: DynaNoise, seed: int | None = None) -> None:
        kind = scores_kind(estimator)
        if kind is None or not hasattr(estimator, "classes_"):
            raise TypeError(
                f"DefendedClassifier serves a fitted classifier (classes_, and predict_proba, "
                f"decision_function or predict); got a {type(estimator).__name__} without them."
            )
        self.estimator = estimator
        self.defense = defense
        self.classes_ = np.asarray(estimator.classes_)
        self._kind = kind
        self._rng = np.random.default_rng(seed)

    def predict_proba(self, records: Any) -> np.ndarray:
        source = type(self.estimator).__name__
        logits = as_logits(model_scores(self.estimator, records), self._kind, source, configured=False)
        return self.defense.apply(logits, self._rng)

    def predict(self, records: Any) -> np.ndarray:
        return self.classes_[self.predict_proba(records).argmax(axis=1)]

    def __getstate__(self) -> dict[str, Any]:
        if self.defense.key:
            raise TypeError(
                "A DefendedClassifier with per_input DynaNoise holds its secret key and is not pickled; "
                "save the classifier and the parameters file, and build it where it serves, with the key "
                "from your secret store (load_params(path, key=...))."
            )
        return self.__dict__

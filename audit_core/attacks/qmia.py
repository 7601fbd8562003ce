"""QMIA, membership inference by quantile regression (Bertran et al., NeurIPS 2023).

No reference model: a quantile regressor learns, on population records (non-members of the target) from
their features (a table's text columns as categories: :class:`~audit_core.core.records.RegressionFields`)
and label, the ``1 - fpr`` quantile of the target's statistic ``phi = log p_y - log(1 - p_y)``
(LiRA's logit-scaled confidence). A record is a member when its statistic exceeds its own predicted quantile,
so each record is judged against records like it. The regressor trains on a random ``1 - holdout`` of the
population; on the rest, the ``1 - fpr`` quantile of ``phi - predicted quantile`` becomes ``threshold_``
(conformalised quantile regression, Romano et al. 2019), so the fraction of non-members flagged is ``fpr`` up
to sampling error even where the regressor, fitted on a small population, over- or under-covers. The score is
``phi - predicted quantile``.
"""

from typing import Self

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor

from audit_core.attacks.base import Attack, AttackInput, CalibrationData, register_attack, require
from audit_core.attacks.lira import logit_confidence
from audit_core.core.records import RegressionFields


def regression_inputs(outputs: AttackInput, fields: RegressionFields, n_classes: int) -> np.ndarray:
    """The regressor's inputs: each record's fields as ``fields`` encodes them, and its one-hot label."""
    return np.hstack([fields.encode(outputs.features), np.eye(n_classes)[outputs.labels]])


@register_attack
class QMIA(Attack):
    """Member if ``phi(x) >= q(x)``, ``q`` the ``1 - fpr`` quantile of ``phi`` on non-members like ``x``."""

    name = "qmia"
    requires = frozenset({"population_features"})

    def __init__(
        self,
        *,
        fpr: float = 0.05,
        max_iter: int = 100,
        learning_rate: float = 0.05,
        min_samples_leaf: int = 20,
        holdout: float = 0.5,
        seed: int = 0,
    ) -> None:
        self.fpr = fpr
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.min_samples_leaf = min_samples_leaf
        self.holdout = holdout
        self.seed = seed

    def check(self) -> None:
        require(0 < self.fpr < 1, "fpr", self.fpr, "a rate between 0 and 1")
        require(0 < self.holdout < 1, "holdout", self.holdout, "a share between 0 and 1")
        require(self.max_iter >= 1, "max_iter", self.max_iter, "at least 1")
        require(self.learning_rate > 0, "learning_rate", self.learning_rate, "a positive number")
        require(self.min_samples_leaf >= 1, "min_samples_leaf", self.min_samples_leaf, "at least 1")

    def fit(self, calibration: CalibrationData) -> Self:
        population = calibration.population_features
        self.n_classes_ = population.probs.shape[1]
        self.fields_ = RegressionFields.fit(population.features)
        inputs = regression_inputs(population, self.fields_, self.n_classes_)
        categorical = self.fields_.categorical
        statistic = logit_confidence(population.probs, population.labels)
        order = np.random.default_rng(self.seed).permutation(len(population))
        held_out, train = np.split(order, [round(self.holdout * len(population))])
        self.regressor_ = HistGradientBoostingRegressor(
            loss="quantile",
            quantile=1.0 - self.fpr,
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            min_samples_leaf=self.min_samples_leaf,
            random_state=self.seed,
            categorical_features=None
            if categorical is None
            else np.r_[categorical, [False] * self.n_classes_],
        ).fit(inputs[train], statistic[train])
        residuals = statistic[held_out] - self.regressor_.predict(inputs[held_out])
        self.threshold_ = float(np.quantile(residuals, 1.0 - self.fpr, method="higher"))
        return self

    def score(self, outputs: AttackInput) -> np.ndarray:
        if outputs.features is None:
            raise ValueError("qmia scores records by their features; the queried outputs come without them.")
        quantile = self.regressor_.predict(regression_inputs(outputs, self.fields_, self.n_classes_))
        return logit_confidence(outputs.probs, outputs.labels) - quantile

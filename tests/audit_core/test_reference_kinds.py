"""Reference models of the target's own kind: clones of scikit-learn targets, checked against an independent
LiRA written here (numpy/scipy only) and against dynaudit's recipe references."""

from pathlib import Path

import catboost
import joblib
import lightgbm
import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from scipy import special, stats
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from audit_core.audit.evaluation import score_condition
from audit_core.audit.inputs import load_audit_data
from audit_core.audit.run import gather_inputs
from audit_core.config import AuditConfig, parse_config
from audit_core.core.errors import TargetError
from audit_core.core.seeding import derive_seed
from audit_core.defenses import Undefended
from audit_core.stats.metrics import roc_auc
from audit_core.targets.sklearn import fitted_columns
from audit_core.training.kinds import (
    CloneModels,
    clone_as_trained,
    estimator_spec,
    kept_rounds,
    seeded_clone,
    unfitted_clone,
)

MIN_STD = 0.01  # LiRA's default floor on the Gaussians' spread, restated here for the independent version
# 200 members / 200 non-members of breast cancer (569 records): 120 population records, 49 test records
DATA = {
    "kind": "demo",
    "dataset": "breast_cancer",
    "n_members": 200,
    "n_non_members": 200,
    "n_population": 120,
}
TARGETS = {
    # fully grown trees: every member is memorised
    "random_forest": RandomForestClassifier(n_estimators=50, random_state=0),
    "mlp": make_pipeline(
        StandardScaler(),
        MLPClassifier(hidden_layer_sizes=(32,), solver="lbfgs", max_iter=300, alpha=0.0, random_state=0),
    ),
}


def _config(tmp_path: Path, model_path: Path, references: str, **fields) -> AuditConfig:
    return parse_config(
        {
            "output_dir": str(tmp_path / "out"),
            "cache_dir": None,
            "data": DATA,
            "target": {"kind": "sklearn", "path": str(model_path)},
            "shadow": {"kind": "none"},
            "references": {"kind": references},
            "reference_models": 16,
            "attacks": ["lira_online", "lira_offline"],
            "knowledge": ["naive"],
            "defenses": [],
            "recipe": {"hidden_sizes": [64], "epochs": 60, "batch_size": 32, "learning_rate": 0.003},
            **fields,
        }
    )


def _saved_target(tmp_path: Path, name: str) -> Path:
    """The target trained on the demo split's members, saved with skops as a user would."""
    data = load_audit_data(_config(tmp_path, tmp_path / "unused.skops", "recipe"))
    model = TARGETS[name].fit(data.members.features, data.members.labels)
    path = tmp_path / f"{name}.skops"
    sio.dump(model, path)
    return path


def _lira_scores(config: AuditConfig, fixed_variance: bool | None = None):
    """dynaudit's online and offline LiRA scores (undefended, naive; the spread as given, or chosen) and the
    signals they came from."""
    signals = gather_inputs(config).signals
    params = {attack: {"fixed_variance": fixed_variance} for attack in config.attacks}
    scores = score_condition(
        signals, Undefended(), config.attacks, seed=config.seed, knowledge=["naive"], attack_params=params
    )
    return {s.attack: s.scores for s in scores.scores}, signals


def _phi(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """log p_y - log sum_{j != y} p_j of softmax(logits), summing the other classes directly."""
    probs = special.softmax(logits, axis=-1)
    is_label = np.arange(probs.shape[-1]) == np.broadcast_to(labels, probs.shape[:-1])[..., None]
    return np.log(np.where(is_label, probs, 0.0).sum(axis=-1)) - np.log(
        np.where(is_label, 0.0, probs).sum(axis=-1)
    )


def _fit(values: np.ndarray) -> tuple[float, float]:
    return float(values.mean()), max(float(values.std(ddof=1)), MIN_STD)


def independent_lira(signals) -> tuple[np.ndarray, np.ndarray]:
    """Carlini et al.'s online and offline LiRA per audit point, from the same reference outputs."""
    labels = signals.audit_labels
    target = _phi(np.vstack([signals.members.logits, signals.non_members.logits]), labels)
    refs = _phi(signals.references.audit, labels)
    online, offline = np.empty(len(target)), np.empty(len(target))
    for i, phi in enumerate(target):
        mean_in, std_in = _fit(refs[signals.references.in_mask[:, i], i])
        mean_out, std_out = _fit(refs[~signals.references.in_mask[:, i], i])
        online[i] = stats.norm.logpdf(phi, mean_in, std_in) - stats.norm.logpdf(phi, mean_out, std_out)
        offline[i] = (phi - mean_out) / std_out
    return online, offline


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_clone_lira_matches_an_independent_implementation(tmp_path, name):
    config = _config(tmp_path, _saved_target(tmp_path, name), "clone")
    scores, signals = _lira_scores(config, fixed_variance=False)  # per point, as the paper's main method
    refs = signals.references
    assert refs.audit.shape == (16, 400, 2) and set(refs.in_mask.sum(axis=0)) == {8}
    online, offline = independent_lira(signals)
    np.testing.assert_allclose(scores["lira_online"], online, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(scores["lira_offline"], offline, rtol=1e-9, atol=1e-9)
    # reference 0 is the user's estimator cloned with its derived seed and fitted on its IN half
    data = load_audit_data(_config(tmp_path, tmp_path / "unused.skops", "clone"))
    points = data.audit_points()
    clone = seeded_clone(TARGETS[name], derive_seed(0, "reference", "0"))
    with threadpool_limits(1):  # as the clones train, wherever they do
        clone.fit(points.features[refs.in_mask[0]], points.labels[refs.in_mask[0]])
    np.testing.assert_allclose(
        special.softmax(refs.audit[0], axis=-1), clone.predict_proba(points.features), atol=1e-11
    )


def test_clone_references_find_more_leakage_in_a_random_forest_than_recipe_references(tmp_path):
    path = _saved_target(tmp_path, "random_forest")
    auc = {}
    for kind in ("clone", "recipe"):
        scores, signals = _lira_scores(_config(tmp_path, path, kind))
        auc[kind] = roc_auc(
            scores["lira_online"], signals.is_member, n_bootstrap=1000, rng=np.random.default_rng(0)
        )
    half_width = max((a.ci_high - a.ci_low) / 2 for a in auc.values())
    assert auc["clone"].value - auc["recipe"].value > half_width, auc


def test_a_clone_is_seeded_in_every_nested_random_state():
    model = seeded_clone(TARGETS["mlp"], 7)
    params = model.get_params()
    assert (
        params["mlpclassifier__random_state"]
        == seeded_clone(TARGETS["mlp"], 7).get_params()["mlpclassifier__random_state"]
    )
    assert (
        params["mlpclassifier__random_state"]
        != seeded_clone(TARGETS["mlp"], 8).get_params()["mlpclassifier__random_state"]
    )
    assert params["mlpclassifier__hidden_layer_sizes"] == (32,)


def _boosting_data() -> tuple[np.ndarray, ...]:
    x, y = make_classification(n_samples=700, n_features=10, n_informative=6, random_state=1)
    return x[:500], y[:500], x[500:], y[500:]


def _lightgbm(**params) -> lightgbm.LGBMClassifier:
    return lightgbm.LGBMClassifier(
        **{"n_estimators": 300, "n_jobs": 1, "verbose": -1, "random_state": 0, **params}
    )


def test_a_boosted_target_stopped_early_is_cloned_with_the_rounds_it_kept():
    """A LightGBM target stopped early on a validation set, by its parameter (alone or in a pipeline) or by a
    callback: a plain clone, given no validation set, refuses to fit or trains all 300 rounds; the audit's
    clone trains the rounds the target kept and, on the target's training records, answers as it does."""
    x, y, x_valid, y_valid = _boosting_data()
    scaled_valid = StandardScaler().fit(x).transform(x_valid)
    by_parameter = _lightgbm(early_stopping_round=5).fit(x, y, eval_X=x_valid, eval_y=y_valid)
    in_pipeline = make_pipeline(StandardScaler(), _lightgbm(early_stopping_round=5)).fit(
        x, y, lgbmclassifier__eval_X=scaled_valid, lgbmclassifier__eval_y=y_valid
    )
    by_callback = _lightgbm().fit(
        x, y, eval_X=x_valid, eval_y=y_valid, callbacks=[lightgbm.early_stopping(5, verbose=False)]
    )
    for target in (by_parameter, in_pipeline):
        with pytest.raises(ValueError, match="For early stopping"):
            clone(target).fit(x, y)
    assert clone(by_callback).fit(x, y).booster_.num_trees() == 300
    for target in (by_parameter, in_pipeline, by_callback):
        booster = target[-1] if hasattr(target, "steps") else target
        assert 0 < kept_rounds(booster) < 300
        trained = clone_as_trained(target).fit(x, y)
        assert (trained[-1] if hasattr(trained, "steps") else trained).booster_.num_trees() == kept_rounds(
            booster
        )
        np.testing.assert_allclose(trained.predict_proba(x_valid), target.predict_proba(x_valid), atol=1e-12)


def test_a_model_not_stopped_early_is_cloned_as_it_is():
    x, y, _, _ = _boosting_data()
    for target in (_lightgbm(n_estimators=20).fit(x, y), RandomForestClassifier(n_estimators=5).fit(x, y)):
        assert kept_rounds(target) is None
        assert clone_as_trained(target).get_params() == clone(target).get_params()


def _catboost(**params) -> catboost.CatBoostClassifier:
    return catboost.CatBoostClassifier(
        **{"depth": 4, "thread_count": 1, "verbose": 0, "allow_writing_files": False, **params}
    )


def test_a_catboost_target_fitted_with_a_validation_set_is_cloned_with_its_trees_and_learning_rate(tmp_path):
    """CatBoost fitted with a validation set keeps the trees up to its best round (stopped early or not) at a
    learning rate it chose from the rounds asked: a plain clone refuses to fit or trains every round; the
    audit's clone trains the trees the target kept at its rate and answers as it does. The model is read
    back from a joblib file, as the audit reads it (which loses CatBoost's feature count)."""
    x, y, x_valid, y_valid = _boosting_data()
    valid = (x_valid, y_valid)
    scaled_valid = (StandardScaler().fit(x).transform(x_valid), y_valid)
    targets = {  # rounds asked, model
        "stopped by early_stopping_rounds": (300, _catboost(iterations=300, early_stopping_rounds=5)),
        "best round kept, alias n_estimators": (300, _catboost(n_estimators=300)),  # its rate: chosen
        "overfitting detector, set rate, in a pipeline": (
            300,
            make_pipeline(
                StandardScaler(),
                _catboost(num_trees=300, od_type="Iter", od_wait=5, use_best_model=True, learning_rate=0.3),
            ),
        ),
    }
    for name, (asked, model) in targets.items():
        eval_set = (
            {"catboostclassifier__eval_set": scaled_valid} if hasattr(model, "steps") else {"eval_set": valid}
        )
        joblib.dump(model.fit(x, y, **eval_set), tmp_path / "target.joblib")
        target = joblib.load(tmp_path / "target.joblib")
        booster = target[-1] if hasattr(target, "steps") else target
        assert 0 < kept_rounds(booster) == booster.tree_count_ < asked, name
        try:
            plain = clone(target).fit(x, y)
            assert (plain[-1] if hasattr(plain, "steps") else plain).tree_count_ == asked, name
        except catboost.CatBoostError as error:  # use_best_model without a validation set
            assert "eval_set" in str(error), name
        trained = clone_as_trained(target).fit(x, y)
        assert (trained[-1] if hasattr(trained, "steps") else trained).tree_count_ == kept_rounds(booster), (
            name
        )
        np.testing.assert_allclose(trained.predict_proba(x_valid), target.predict_proba(x_valid), atol=1e-12)
    assert kept_rounds(_catboost(iterations=20).fit(x, y)) is None  # no validation set: cloned as it is


def test_every_clone_of_a_catboost_target_has_its_own_seed():
    """CatBoost names its seed ``random_seed``; each clone gets one derived from its model's seed, as
    ``random_state`` does."""
    estimator = make_pipeline(StandardScaler(), _catboost(iterations=10, random_seed=0))
    seeds = [seeded_clone(estimator, seed)[-1].get_params()["random_seed"] for seed in (1, 2)]
    assert seeds == [derive_seed(seed, "catboostclassifier__random_seed") for seed in (1, 2)]
    assert seeds[0] != seeds[1]


def test_a_catboost_target_with_text_categories_is_cloned_and_fitted_by_column_name():
    """CatBoost reading a text column as categories (``cat_features`` by name): scikit-learn's clone refuses
    it in CatBoost 1.2.10 (its constructor copies the list); the audit's clone is the same estimator, knows
    the table's columns from ``feature_names_``, and fits as CatBoost fitted on the table does."""
    rng = np.random.default_rng(0)
    table = pd.DataFrame(
        {"age": rng.integers(18, 90, 300), "colour": rng.choice(["red", "green", "blue"], 300)}
    )
    labels = ((table["colour"] == "red") ^ (table["age"] > 50)).to_numpy().astype(int)
    target = _catboost(iterations=20, cat_features=["colour"], random_seed=0).fit(table, labels)
    assert fitted_columns(target) == ("age", "colour")
    assert fitted_columns(_catboost(iterations=5).fit(table[["age"]].to_numpy(), labels)) is None  # an array
    copied = unfitted_clone(make_pipeline(target))
    assert copied.get_params()["catboostclassifier__cat_features"] == ["colour"]
    assert estimator_spec(copied) == estimator_spec(make_pipeline(target)) and not copied[-1].is_fitted()

    records = table.to_numpy(dtype=object)  # as the audit holds a table's records
    models = CloneModels(target, 2, feature_names=fitted_columns(target))
    (trained,) = models.train([(records, labels)], [3])
    independent = _catboost(iterations=20, cat_features=["colour"], random_seed=derive_seed(3, "random_seed"))
    np.testing.assert_allclose(
        trained.predict_proba(table), independent.fit(table, labels).predict_proba(table), atol=1e-12
    )
    assert trained.get_all_params()["random_seed"] != 0


class _CopiesItsLayers(BaseEstimator, ClassifierMixin):
    """A constructor that copies its list, as CatBoost 1.2.10's does: scikit-learn's clone refuses it."""

    def __init__(self, layers=(8,)):
        self.layers = list(layers)


class _ListsAParameterItDoesNotTake(_CopiesItsLayers):
    def get_params(self, deep=True):
        return {**super().get_params(deep), "width": 3}


def test_an_estimator_that_cannot_be_copied_is_refused_in_one_sentence():
    with pytest.raises(RuntimeError, match="Cannot clone object"):
        clone(_CopiesItsLayers([4, 2]))
    copied = unfitted_clone(_CopiesItsLayers([4, 2]))
    assert isinstance(copied, _CopiesItsLayers) and copied.layers == [4, 2]
    with pytest.raises(
        TargetError, match=r"^The target's _ListsAParameterItDoesNotTake cannot be copied for"
    ):
        unfitted_clone(_ListsAParameterItDoesNotTake())

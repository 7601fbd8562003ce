"""Kinds of shadow and reference models: dynaudit's recipe, the target's own architecture, clones of a
scikit-learn target, or the user's training function.

A :class:`ModelKind` is plain data that pickles to a worker: it trains a group of models there
(:meth:`ModelKind.train`, whose results pickle back), says what determines its models (:meth:`ModelKind.key`,
the model cache's key without the data, role, index, seed and training set), and caches and queries them.
"""

import contextlib
import copy
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.base import clone
from threadpoolctl import threadpool_limits
from torch import nn

from audit_core.config import OutputKind, TorchInputType, TrainingRecipe
from audit_core.core.errors import TargetError, brief
from audit_core.core.files import sha256_file
from audit_core.core.imports import import_object
from audit_core.core.probability import PROBABILITY_FLOOR, log_softmax
from audit_core.core.records import Categories
from audit_core.core.seeding import derive_seed
from audit_core.core.torch_rng import seeded_global_rng
from audit_core.core.user_code import UserCodeError, call_user_code, user_records
from audit_core.targets import ModelTarget, Target, TorchTarget
from audit_core.targets.base import as_logits
from audit_core.targets.callable import source_file
from audit_core.targets.sklearn import classifier_scores, model_inputs, read_skops, scores_kind
from audit_core.training import build_model, train_classifier
from audit_core.training.batched import ARITHMETIC
from audit_core.training.cache import ModelCache
from audit_core.training.estimator_text import estimator_text, is_estimator
from audit_core.training.trainers import TRAINERS

BATCH_OF_MODELS = 16  # models trained together in one group (by the batched trainer, or one worker's share)
StateArrays = dict[str, np.ndarray]  # one torch model's weights: state-dict name -> array
TrainingSet = tuple[np.ndarray, np.ndarray]  # (features, labels)


class ModelKind(ABC):
    """How one kind of shadow/reference model trains, what determines it, how it is cached and queried."""

    #: whether training groups side by side in threads pays (the work releases the GIL)
    parallel_here: ClassVar[bool] = False
    #: whether its trained models pickle to a task runner's workers and back
    portable: ClassVar[bool] = True

    def group_size(self, n_models: int, slots: int) -> int:
        """Models per group: up to :data:`BATCH_OF_MODELS`, few enough that ``n_models`` make at least
        ``slots`` groups (so that every slot of a parallel runner gets work)."""
        return max(1, min(BATCH_OF_MODELS, -(-n_models // max(slots, 1))))

    @abstractmethod
    def key(self) -> dict[str, Any]:
        """What determines the models besides their data, role, index, seed and training set."""

    @abstractmethod
    def describe(self) -> str:
        """What the models are, e.g. ``clones of RandomForestClassifier(n_estimators=50)``."""

    @abstractmethod
    def train(self, sets: list[TrainingSet], seeds: list[int]) -> list[Any]:
        """One trained model per training set, as something that pickles back from a worker."""

    @abstractmethod
    def load(self, cache: ModelCache, key: str) -> Target | None:
        """The cached model for ``key`` as a queryable target, or ``None``."""

    @abstractmethod
    def store(self, cache: ModelCache, key: str, trained: Any) -> Target:
        """Cache one model :meth:`train` returned; return it as a queryable target."""


@dataclass(frozen=True)
class _TorchModels(ModelKind):
    """Torch networks trained with a recipe's optimiser settings, cached as state dicts."""

    recipe: TrainingRecipe
    n_classes: int
    width: int
    #: where the models train and answer: a resolved torch device (not in the key); keyword-only
    device: str = field(default="cpu", kw_only=True)

    @abstractmethod
    def blank(self) -> nn.Module:
        """An untrained network of this kind (its weights are replaced at once)."""

    def load(self, cache: ModelCache, key: str) -> Target | None:
        module = cache.load(key, self.blank)
        return None if module is None else self._target(module)

    def store(self, cache: ModelCache, key: str, trained: StateArrays) -> Target:
        module = self.blank()
        module.load_state_dict({name: torch.tensor(value) for name, value in trained.items()})
        cache.store(key, module.eval())
        return self._target(module)

    def _target(self, module: nn.Module) -> Target:
        return TorchTarget(module).to(self.device)


def _state_arrays(models: list[nn.Module]) -> list[StateArrays]:
    return [{name: value.numpy() for name, value in model.state_dict().items()} for model in models]


@dataclass(frozen=True)
class RecipeModels(_TorchModels):
    """dynaudit's own network from ``recipe``, trained by one of :data:`TRAINERS`."""

    trainer: str = "batched"

    def group_size(self, n_models: int, slots: int) -> int:
        return 1 if self.trainer == "loop" else super().group_size(n_models, slots)

    def key(self) -> dict[str, Any]:
        recipe = self.recipe.model_dump(mode="json")
        return {"recipe": recipe} | ({"arithmetic": ARITHMETIC} if self.recipe.architecture == "mlp" else {})

    def describe(self) -> str:
        shape = list(self.recipe.hidden_sizes) if self.recipe.architecture == "mlp" else ""
        return f"dynaudit recipe networks ({self.recipe.architecture} {shape}, {self.recipe.epochs} epochs)"

    def blank(self) -> nn.Module:
        return build_model(self.recipe, self.width, self.n_classes, seed=0)

    def train(self, sets: list[TrainingSet], seeds: list[int]) -> list[StateArrays]:
        trainer = TRAINERS[self.trainer]
        return _state_arrays(trainer(sets, self.n_classes, self.recipe, seeds=seeds, device=self.device))


@dataclass(frozen=True)
class ArchitectureModels(_TorchModels):
    """The target's own architecture factory and keyword arguments, trained with the recipe's optimiser;
    its networks return what the target's do (``output``: logits, or probabilities from their own softmax),
    and train and answer accordingly."""

    architecture: str = ""
    kwargs: dict[str, Any] = field(default_factory=dict)
    output: OutputKind = "logits"
    input_dtype: TorchInputType = "float32"

    def key(self) -> dict[str, Any]:
        recipe = self.recipe.model_dump(mode="json", exclude={"architecture", "hidden_sizes"})
        key = {"architecture": self.architecture, "architecture_kwargs": self.kwargs, "recipe": recipe}
        key |= {"output": self.output} if self.output != "logits" else {}  # the defaults: keys as before
        return key | ({"input_dtype": self.input_dtype} if self.input_dtype != "float32" else {})

    def describe(self) -> str:
        return (
            f"networks of the target's architecture {self.architecture} trained {self.recipe.epochs} epochs"
        )

    def _network(self) -> nn.Module:
        return call_user_code(import_object(self.architecture, "target.architecture"), **self.kwargs)

    def blank(self) -> nn.Module:
        with seeded_global_rng(0):  # no other thread's draws disturbed
            return self._network()

    def train(self, sets: list[TrainingSet], seeds: list[int]) -> list[StateArrays]:
        return _state_arrays(
            [
                train_classifier(
                    x,
                    y,
                    self.n_classes,
                    self.recipe,
                    seed=seed,
                    build=self._network,
                    device=self.device,
                    output=self.output,
                    input_dtype=self.input_dtype,
                )
                for (x, y), seed in zip(sets, seeds, strict=True)
            ]
        )

    def _target(self, module: nn.Module) -> Target:
        return TorchTarget(module, output=self.output, input_dtype=self.input_dtype).to(self.device)


class ClassifierModelTarget(ModelTarget):
    """A trained scikit-learn-style classifier, scored as :class:`~audit_core.targets.sklearn.SklearnTarget`
    scores the target. A class missing from its training set gets probability 0, or, among margins, the
    log-probability ``log(PROBABILITY_FLOOR)`` beside the log-softmax of the margins of the classes it saw."""

    output_configured = False  # as for the target: the estimator says what it returns

    def __init__(
        self, model: Any, n_classes: int, *, source: str, digest: str, categories: Categories = ()
    ) -> None:
        super().__init__(source=source, digest=digest, output=scores_kind(model) or "logits", batch_size=4096)
        self.model = model
        self.n_classes = n_classes
        self.categories = categories

    def predict(self, batch: np.ndarray) -> np.ndarray:
        scores = np.asarray(classifier_scores(self.model, batch, self.categories), dtype=np.float64)
        classes = getattr(self.model, "classes_", None)
        if classes is None or len(classes) == self.n_classes:
            return scores
        seen = np.asarray(classes, dtype=int)
        if self.output == "probabilities":
            full = np.zeros((len(batch), self.n_classes))
            full[:, seen] = scores
            return full
        full = np.full((len(batch), self.n_classes), np.log(PROBABILITY_FLOOR))
        full[:, seen] = log_softmax(as_logits(scores, "logits", self.source))
        return full


def estimator_spec(value: Any) -> Any:
    """A JSON-able description of an unfitted estimator: its class and ``get_params(deep=False)``, nested
    estimators (pipelines' steps too) described the same way; never its fitted state."""
    if is_estimator(value):
        params = value.get_params(deep=False)
        kind = type(value)
        return {
            "class": f"{kind.__module__}.{kind.__qualname__}",
            "params": {name: estimator_spec(params[name]) for name in sorted(params)},
        }
    if isinstance(value, list | tuple):
        return [estimator_spec(item) for item in value]
    if isinstance(value, dict):
        return {str(name): estimator_spec(item) for name, item in value.items()}
    if isinstance(value, np.ndarray):
        return value.tolist()
    if callable(value):
        return f"{getattr(value, '__module__', '')}.{getattr(value, '__qualname__', repr(value))}"
    return value


#: Held while a clone that draws from the C library's one random generator fits (:func:`draws_from_c_rand`):
#: two such fits in threads at once interleave their draws, and the clones then differ from run to run.
_C_RAND = threading.Lock()


def draws_from_c_rand(estimator: Any) -> bool:
    """Whether fitting ``estimator`` (or an estimator inside it) draws from the C library's random generator,
    shared by the whole process: libsvm's (scikit-learn's ``sklearn.svm`` estimators, e.g. ``SVC`` with
    ``probability=True``) and liblinear's (the ``liblinear`` solver)."""
    parts = [estimator, *estimator.get_params(deep=True).values()]
    return any(
        type(part).__module__.startswith("sklearn.svm") or getattr(part, "solver", None) == "liblinear"
        for part in parts
    )


def unfitted_clone(estimator: Any) -> Any:
    """``sklearn.base.clone`` of ``estimator``; where a constructor inside it copies a list parameter, which
    fails that clone's identity check (CatBoost 1.2.10's ``cat_features``, catboost issue 3078), the same
    estimators built from their parameters. Raises :class:`TargetError` where neither copies it."""
    try:
        return clone(estimator)
    except (RuntimeError, TypeError) as error:  # TypeError: a constructor refusing what get_params gave
        try:
            return _rebuilt(estimator)
        except Exception:  # the estimator cannot be built from its parameters: clone's reason says why
            raise TargetError(
                f"The target's {type(estimator).__name__} cannot be copied for its clones: {brief(error)}; "
                "expected an estimator that sklearn.base.clone copies (or set references.kind and "
                "shadow.kind to 'function' to train with your own code)."
            ) from None


def _rebuilt(value: Any) -> Any:
    """``value`` with every estimator in it made anew, unfitted, from its parameters; other values copied."""
    if is_estimator(value):
        return type(value)(**{name: _rebuilt(item) for name, item in value.get_params(deep=False).items()})
    if isinstance(value, list | tuple):
        return type(value)(_rebuilt(item) for item in value)
    if isinstance(value, dict):
        return {name: _rebuilt(item) for name, item in value.items()}
    return copy.deepcopy(value)


def seeded_clone(estimator: Any, seed: int) -> Any:
    """An unfitted clone of ``estimator`` (:func:`unfitted_clone`) with every ``random_state`` (CatBoost's
    ``random_seed``; nested ones too) set from ``seed``, each its own derived seed."""
    model = unfitted_clone(estimator)
    names = [n for n in model.get_params(deep=True) if n.split("__")[-1] in ("random_state", "random_seed")]
    return model.set_params(**{name: derive_seed(seed, name) for name in names})


#: The parameters with which XGBoost, LightGBM and CatBoost stop training early, or keep their best round,
#: on a validation set given to ``fit`` (LightGBM's aliases and CatBoost's overfitting detector included).
EARLY_STOPPING = (
    "early_stopping_rounds",
    "early_stopping_round",
    "early_stopping",
    "n_iter_no_change",
    "od_type",
    "od_wait",
    "od_pval",
    "use_best_model",
)
#: The parameter that sets a boosted model's rounds, and for CatBoost its aliases (the first one set is used).
ROUNDS = {
    "xgboost": ("n_estimators",),
    "lightgbm": ("n_estimators",),
    "catboost": ("iterations", "n_estimators", "num_boost_round", "num_trees"),
}

#: What CatBoost chooses from the rounds asked (and the validation set) where the user set none: a model
#: asked for fewer rounds would choose otherwise (a binary one of 300 rounds takes 10 leaf estimation
#: iterations, of 100 rounds 1).
CATBOOST_CHOSEN_BY_ROUNDS = ("learning_rate", "leaf_estimation_iterations")


def kept_rounds(model: Any) -> int | None:
    """The boosting rounds a fitted XGBoost, LightGBM or CatBoost model kept where it was fitted with a
    validation set and stopped early (or, CatBoost's default, kept its best round), else None. Its
    predictions are those of a model trained that many rounds, at the same learning rate."""
    library = _library(model)
    if library == "xgboost":
        with contextlib.suppress(AttributeError):  # best_iteration: 0-based, defined after early stopping
            return int(model.best_iteration) + 1
    if library == "lightgbm":
        return int(getattr(model, "best_iteration_", 0) or 0) or None  # counted from 1; 0 without
    if library == "catboost" and getattr(model, "best_iteration_", None) is not None:  # None: no eval set
        return int(model.tree_count_)
    return None


def clone_as_trained(estimator: Any) -> Any:
    """``sklearn.base.clone`` of a fitted estimator, with each boosted model in it that stopped early
    (:func:`kept_rounds`) made to train the rounds it kept, without early stopping: a clone's ``fit`` is given
    no validation set (XGBoost, LightGBM and CatBoost refuse to fit without one), and a model stopped by a
    callback, or a CatBoost model that dropped its last rounds, would otherwise train every round."""
    if (trained := _as_trained(estimator)) is not None:
        return trained
    boosted = {
        name: trained
        for name, part in estimator.get_params(deep=True).items()
        if is_estimator(part) and (trained := _as_trained(part)) is not None
    }
    return unfitted_clone(estimator).set_params(**boosted)


def _as_trained(model: Any) -> Any | None:
    """An unfitted copy of one boosted model that stopped early, set to train the rounds it kept without early
    stopping (the parameters are left out, not set to None: CatBoost refuses None), at the learning rate it
    used (CatBoost's choices from the rounds asked, :data:`CATBOOST_CHOSEN_BY_ROUNDS`, kept); None for any
    other model."""
    rounds = kept_rounds(model)
    if rounds is None:
        return None
    params = {
        name: value for name, value in model.get_params(deep=False).items() if name not in EARLY_STOPPING
    }
    names = ROUNDS[_library(model)]
    params[next((name for name in names if params.get(name) is not None), names[0])] = rounds
    if _library(model) == "catboost":
        chosen = model.get_all_params()
        params |= {name: chosen.get(name) for name in CATBOOST_CHOSEN_BY_ROUNDS if params.get(name) is None}
    return unfitted_clone(type(model)(**params))


def _library(model: Any) -> str:
    return type(model).__module__.split(".")[0]


def _write_skops(model: Any) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        import skops.io as sio  # here: see targets/sklearn.read_skops

        with path.open("wb") as file:
            sio.dump(model, file)

    return write


@dataclass(frozen=True)
class CloneModels(ModelKind):
    """``sklearn.base.clone`` of the target's estimator, seeded per model (:func:`seeded_clone`), cached as
    skops files that rebuild only library classes and ``trusted_types``
    (:func:`~audit_core.targets.sklearn.clone_trusted_types`)."""

    parallel_here: ClassVar[bool] = True
    estimator: Any
    n_classes: int
    trusted_types: tuple[str, ...] = ()
    feature_names: tuple[str, ...] | None = None  # the target's columns, where it was fitted on a table
    categories: Categories = ()  # the table's categorical columns, each in its dtype

    def key(self) -> dict[str, Any]:
        names = {} if self.feature_names is None else {"feature_names": list(self.feature_names)}
        if self.categories:
            names["categories"] = {
                name: [[str(c) for c in dtype.categories], bool(dtype.ordered)]
                for name, dtype in self.categories
            }
        return {"estimator": estimator_spec(self.estimator), **names}

    def describe(self) -> str:
        return "clones of " + estimator_text(self.estimator)

    def train(self, sets: list[TrainingSet], seeds: list[int]) -> list[Any]:
        """Fitted clones, each on one BLAS thread: its sums in one order, so wherever it trains (this
        process, a joblib thread, a Dask worker) it is the same model."""
        with threadpool_limits(1):
            return [self._fit(x, y, seed) for (x, y), seed in zip(sets, seeds, strict=True)]

    def _fit(self, records: np.ndarray, labels: np.ndarray, seed: int) -> Any:
        """One clone fitted on ``records``, in turn with others that draw from the C library's random
        generator; the estimator's own failure becomes one sentence."""
        turns = _C_RAND if draws_from_c_rand(self.estimator) else contextlib.nullcontext()
        model = seeded_clone(self.estimator, seed)
        try:
            with turns:
                return model.fit(
                    model_inputs(self.estimator, records, self.feature_names, self.categories), labels
                )
        except Exception as error:  # the user's estimator failed on the user's data
            reason = brief(error, records=records)
            raise TargetError(
                f"A clone of the target ({type(self.estimator).__name__}) could not be fitted on "
                f"{len(labels)} of the data's records: {type(error).__name__}: {reason}; expected the "
                "target's estimator to fit on them (or set references.kind and shadow.kind to 'function' to "
                "train with your own code)."
            ) from None

    def _target(self, model: Any, key: str) -> Target:
        return ClassifierModelTarget(
            model, self.n_classes, source="A clone of the target", digest=key, categories=self.categories
        )

    def load(self, cache: ModelCache, key: str) -> Target | None:
        read = lambda path: read_skops(path, self.trusted_types, "the model cache")  # noqa: E731
        model = cache.load_file(key, ".skops", read)
        return None if model is None else self._target(model, key)

    def store(self, cache: ModelCache, key: str, trained: Any) -> Target:
        cache.store_file(key, ".skops", _write_skops(trained))
        return self._target(trained, key)


class FunctionModelTarget(ModelTarget):
    """A model the user's training function returned that is a plain callable from records to ``output``."""

    def __init__(
        self,
        function: Callable[[np.ndarray], Any],
        *,
        source: str,
        digest: str,
        output: OutputKind = "logits",
    ) -> None:
        super().__init__(source=source, digest=digest, output=output)
        self.function = function

    def predict(self, batch: np.ndarray) -> np.ndarray:
        return np.asarray(self.function(batch))


@dataclass(frozen=True)
class FunctionModels(ModelKind):
    """The user's ``train(features, labels, *, n_classes, seed)``; its result is queried as it is (an object
    with ``predict_proba`` or ``decision_function``, or a torch module or a callable returning what the target
    returns: ``output``, logits or probabilities). Trained in this process (the
    result need not pickle); the key covers the function's name and source file; only scikit-learn results
    are cached (skops), others retrain each run."""

    portable: ClassVar[bool] = False
    function: str
    n_classes: int
    field: str = "references.function"
    output: OutputKind = "logits"

    def key(self) -> dict[str, Any]:
        source = source_file(import_object(self.function, self.field))
        return {"function": self.function, "source": None if source is None else sha256_file(source)}

    def describe(self) -> str:
        return f"models trained by {self.function}"

    def train(self, sets: list[TrainingSet], seeds: list[int]) -> list[Any]:
        train = import_object(self.function, self.field)
        trained = []
        for (x, y), seed in zip(sets, seeds, strict=True):
            try:
                with seeded_global_rng(seed):  # a function drawing from torch's generator is reproducible
                    model = call_user_code(train, user_records(x), y, n_classes=self.n_classes, seed=seed)
            except UserCodeError as failure:  # any exception of the user's training code, SystemExit too
                error = failure.cause
                raise TargetError(
                    f"{self.field}: {self.function}(features, labels, n_classes={self.n_classes}, seed=...) "
                    f"raised {type(error).__name__}: {brief(error, records=x)}; expected it to train a model."
                ) from None
            self.queryable(model)  # refuses a result that cannot be queried, before the next model trains
            trained.append(model)
        return trained

    def queryable(self, model: Any, key: str = "") -> Target:
        """What ``model`` (one :meth:`train` returned) answers as a target; refuses what cannot answer."""
        source = f"A model trained by {self.function}"
        target: ModelTarget
        if scores_kind(model) is not None:
            target = ClassifierModelTarget(model, self.n_classes, source=source, digest=key)
        elif isinstance(model, nn.Module):
            target = TorchTarget(model.eval(), source=source, digest=key or None, output=self.output)
        elif callable(model):
            target = FunctionModelTarget(model, source=source, digest=key, output=self.output)
        else:
            raise TargetError(
                f"{self.field}: {self.function} returned a {type(model).__name__}; expected a classifier "
                f"(classes_ and predict_proba, decision_function or predict), a torch.nn.Module, or a "
                f"callable from records to {self.output}."
            )
        target.user_code = True  # queried with the records the user's training function was given
        return target

    def load(self, cache: ModelCache, key: str) -> Target | None:
        model = cache.load_file(key, ".skops", lambda path: read_skops(path, (), "the model cache"))
        return None if model is None else self.queryable(model, key)

    def store(self, cache: ModelCache, key: str, trained: Any) -> Target:
        cacheable = hasattr(trained, "get_params") and type(trained).__module__.startswith("sklearn.")
        cache.store_file(key, ".skops", _write_skops(trained) if cacheable else None)
        return self.queryable(trained, key)

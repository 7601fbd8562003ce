"""A fitted scikit-learn classifier as the target: skops files by default, pickles only with consent.

skops rebuilds only the types it trusts by default, the library classes below, and those the config lists in
``target.trusted_types``; any other type in the file stops the audit with its name. skops records classes
and function references (e.g. ``FunctionTransformer(func=...)``) alike as ``module.name``, so a name is
trusted only when it resolves to a *class* of the library it names: any class defined in scikit-learn (its
estimators and their internals, e.g. ``sklearn.tree._tree.Tree``), numpy's scalars, dtypes and random
generators (``numpy.ndarray`` itself, not subclasses such as ``numpy.memmap``), and scipy's sparse matrices.
Functions (``numpy.load``, ``scipy.io.loadmat``, ``builtins.eval``) are code and are never trusted without
the config. joblib and pickle files run arbitrary code when loaded, so they are read only when the config says
``trust_pickle: true``.
"""

import contextlib
import pickle
import pydoc
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from scipy import sparse

from audit_core.config import SklearnTargetConfig
from audit_core.core.errors import TargetError, brief
from audit_core.core.files import sha256_file
from audit_core.core.forked import in_worker
from audit_core.core.paths import existing_file, suffix_of
from audit_core.core.probability import OutputKind
from audit_core.core.records import Categories
from audit_core.targets.base import ModelTarget

FIELD = "target.path"

LIBRARY_CLASSES: dict[str, Callable[[type], bool]] = {
    "sklearn": lambda cls: True,
    "numpy": lambda cls: (
        issubclass(cls, (np.generic, np.dtype, np.random.Generator, np.random.BitGenerator))
        or cls in (np.ndarray, np.random.RandomState, np.random.SeedSequence)
    ),
    "scipy": lambda cls: issubclass(cls, (sparse.sparray, sparse.spmatrix)),
}


def _library_class(name: str) -> bool:
    """Whether ``name`` is a class of the library it names, by the rules above (never a function)."""
    package = name.split(".")[0]
    rule = LIBRARY_CLASSES.get(package)
    if rule is None:
        return False
    try:
        found = pydoc.locate(name)
    except pydoc.ErrorDuringImport:
        return False
    return isinstance(found, type) and found.__module__.split(".")[0] == package and rule(found)


def read_skops(path: Path, trusted_types: list[str] | tuple[str, ...], field: str = FIELD) -> Any:
    """The object in a skops file, rebuilding only library classes and ``trusted_types`` (see above)."""
    import skops.io as sio  # here: most of a second to import, which audits of other targets skip

    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as error:  # a corrupt zip or a bad schema
        raise TargetError(
            f"{field}: '{path}' is not a readable skops file ({type(error).__name__}); expected "
            "skops.io.dump output."
        ) from None
    refused = sorted(name for name in set(untrusted) - set(trusted_types) if not _library_class(name))
    if refused:
        raise TargetError(
            f"{field}: '{path}' contains types that are not trusted: {refused}; list them in "
            "target.trusted_types if you trust their code."
        )
    return sio.load(path, trusted=untrusted)


#: The types each trusted pickle's model is made of, while something holds the model: an audit builds its
#: clones' kind for the shadow, the references and their description, and writing a large model takes time.
_MADE_OF: weakref.WeakKeyDictionary[Any, frozenset[str]] = weakref.WeakKeyDictionary()


def clone_trusted_types(config: SklearnTargetConfig, model: Any) -> tuple[str, ...]:
    """The types a skops file of the target's clones (a model cache entry) may rebuild: the config's
    ``trusted_types`` and, for a pickle the config trusts, the types the target ``model`` itself is made of,
    whose code the user consented to run (a LightGBM model's classes). Any other type in a cache entry is
    refused as ever."""
    trusted = set(config.trusted_types)
    if config.trust_pickle:
        trusted |= _made_of(model)
    return tuple(sorted(trusted))


def _made_of(model: Any) -> frozenset[str]:
    """The type names skops finds in ``model`` written as a skops file, found once per model held."""
    with contextlib.suppress(TypeError):  # a model without a hash or weak reference is written each time
        if model in _MADE_OF:
            return _MADE_OF[model]
    import skops.io as sio  # here: see read_skops

    types: frozenset[str] = frozenset()
    with contextlib.suppress(Exception):  # a model skops cannot write: nor can its clones be cached
        types = frozenset(sio.get_untrusted_types(data=sio.dumps(model)))
    with contextlib.suppress(TypeError):
        _MADE_OF[model] = types
    return types


def _load_skops(path: Path, config: SklearnTargetConfig) -> Any:
    return read_skops(path, config.trusted_types)


def _load_pickle(path: Path, config: SklearnTargetConfig) -> Any:
    if not config.trust_pickle:
        raise TargetError(
            f"{FIELD}: '{path}' is a pickle, which runs arbitrary code when loaded; set target.trust_pickle: "
            "true only if you trust its author, or save the model with skops.io.dump."
        )
    try:
        return joblib.load(path)
    except (pickle.UnpicklingError, EOFError, ValueError, KeyError) as error:
        raise TargetError(
            f"{FIELD}: '{path}' is not a readable joblib/pickle file ({brief(error)})."
        ) from None


LOADERS: dict[str, Callable[[Path, SklearnTargetConfig], Any]] = {
    ".skops": _load_skops,
    ".joblib": _load_pickle,
    ".pkl": _load_pickle,
    ".pickle": _load_pickle,
}


def fitted_columns(model: Any) -> tuple[str, ...] | None:
    """The columns a model was fitted on (scikit-learn's ``feature_names_in_``; CatBoost's
    ``feature_names_``, alone or first in a pipeline, unless they are the names it gives an array's columns,
    ``'0'``, ``'1'``, ...), or None if it saw an array."""
    names = getattr(model, "feature_names_in_", None)
    first = _first_step(model)
    if names is None and type(first).__module__.split(".")[0] == "catboost":
        names = getattr(first, "feature_names_", None)
        if names is not None and list(names) == [str(index) for index in range(len(names))]:
            names = None
    return None if names is None else tuple(names)


def takes_texts(model: Any) -> bool:
    """Whether ``model`` reads one text per record: a scikit-learn text vectorizer (``build_analyzer``:
    CountVectorizer, TfidfVectorizer, HashingVectorizer), alone or first in a pipeline, fitted on a list of
    texts, not on a table (a ColumnTransformer that picks the text column by name takes the table)."""
    return hasattr(_first_step(model), "build_analyzer")


def _first_step(model: Any) -> Any:
    """A pipeline's first step, or ``model`` itself."""
    steps = getattr(model, "steps", None)
    return steps[0][1] if steps else model


def _predicts_several_labels(model: Any) -> bool:
    """Whether ``model`` is a multi-output classifier (``classes_`` a list of arrays, one per output) or a
    multi-label one (``multilabel_``: a one-vs-rest classifier fitted on indicator columns)."""
    classes = getattr(model, "classes_", None)
    several_outputs = isinstance(classes, list | tuple) and any(np.ndim(c) > 0 for c in classes)
    return several_outputs or bool(getattr(model, "multilabel_", False))


def releases_labels_only(model: Any) -> bool:
    """Whether a fitted classifier answers with its predicted labels alone: ``predict`` and ``classes_``, but
    neither ``predict_proba`` nor ``decision_function`` (a hard-voting ensemble, a rule set)."""
    scores = hasattr(model, "predict_proba") or hasattr(model, "decision_function")
    return not scores and hasattr(model, "predict") and hasattr(model, "classes_")


def scores_kind(model: Any) -> OutputKind | None:
    """What a scikit-learn classifier scores records with: probabilities (``predict_proba``; a classifier that
    :func:`releases_labels_only` gives probability 1 to its label), else logits (the margins of
    ``decision_function``: an SVM without ``probability=True``, a linear classifier with the hinge loss); None
    when it has none of these."""
    if hasattr(model, "predict_proba") or releases_labels_only(model):
        return "probabilities"
    return "logits" if hasattr(model, "decision_function") else None


#: The models whose jobs this worker process has set to one (:func:`one_job_in_a_worker`).
_ONE_JOB: weakref.WeakSet[Any] = weakref.WeakSet()


def one_job_in_a_worker(model: Any) -> None:
    """In a forked worker (:func:`~audit_core.core.forked.in_worker`), which owns one core, set every
    ``n_jobs`` of ``model`` (its steps' and members' too) to 1, once. LightGBM hands OpenMP its own thread
    count, the cores it sees, and in a forked child OpenMP waits forever for the threads of its parent's
    pool, which the fork did not copy; other models would contend for the core. A model's answers do not
    depend on its jobs."""
    if not in_worker() or not hasattr(model, "get_params"):
        return
    with contextlib.suppress(TypeError):  # a model without a hash or weak reference is looked at each time
        if model in _ONE_JOB:
            return
    params = model.get_params(deep=True)
    jobs = {name: 1 for name, value in params.items() if name.rsplit("__")[-1] == "n_jobs" and value != 1}
    if jobs:
        model.set_params(**jobs)
    with contextlib.suppress(TypeError):
        _ONE_JOB.add(model)


def classifier_scores(model: Any, records: np.ndarray, categories: Categories = ()) -> np.ndarray:
    """The scores of :func:`scores_kind` for ``records``, given as the model was fitted: with its columns'
    names (and ``categories``' dtypes), on one job in a forked worker (:func:`one_job_in_a_worker`). A label
    outside ``classes_`` gives a row of zeros."""
    one_job_in_a_worker(model)
    return model_scores(model, model_inputs(model, records, fitted_columns(model), categories))


def model_scores(model: Any, inputs: Any) -> np.ndarray:
    """The scores of :func:`scores_kind` for ``inputs`` in the form ``model`` takes them (an array, a data
    frame of its columns, texts)."""
    if releases_labels_only(model):
        predicted = np.asarray(model.predict(inputs))
        return (predicted[:, None] == np.asarray(model.classes_)[None, :]).astype(np.float64)
    if scores_kind(model) == "probabilities":
        return model.predict_proba(inputs)
    return model.decision_function(inputs)


def named_inputs(records: np.ndarray, names: Sequence[str] | None, categories: Categories = ()) -> Any:
    """``records`` as a data frame with the column ``names`` (what a model fitted on a table takes: its
    ``feature_names_in_``; a ColumnTransformer picks columns by name), each of ``categories`` (column, pandas
    categorical dtype) in its dtype, a value outside it missing; or the array itself without names."""
    if names is None:
        return records
    frame = pd.DataFrame(records.reshape(len(records), -1), columns=list(names)).infer_objects()
    for name, dtype in categories:
        frame[name] = frame[name].astype(dtype)
    return frame


def model_inputs(
    model: Any, records: np.ndarray, names: Sequence[str] | None, categories: Categories = ()
) -> Any:
    """``records`` as ``model`` takes them: the texts of a one-field table for a model that
    :func:`takes_texts`, else :func:`named_inputs`."""
    if not takes_texts(model):
        return named_inputs(records, names, categories)
    fields = records.reshape(len(records), -1)
    if fields.shape[1] != 1:
        raise ValueError(f"{_reads_texts(model)}, and these records have {fields.shape[1]} fields")
    return fields[:, 0]


def _reads_texts(model: Any) -> str:
    """What a model that :func:`takes_texts` reads, said in a sentence's words."""
    return f"its {type(_first_step(model)).__name__} reads one text per record"


class SklearnTarget(ModelTarget):
    """A classifier with ``predict_proba`` (logits: log probabilities) or, without it, ``decision_function``
    (logits: its margins; a binary classifier's one margin ``d`` is ``[0, d]``), or with ``predict`` alone
    (its label as probability 1, :func:`releases_labels_only`). Its ``classes_`` must be the data's
    (:meth:`require_classes`)."""

    output_configured = False  # predict_proba, decision_function or predict says what it returns

    def __init__(self, model: Any, *, source: str, digest: str, batch_size: int = 4096) -> None:
        classes = getattr(model, "classes_", None)
        output = scores_kind(model)
        if _predicts_several_labels(model):
            raise TargetError(
                f"{source} holds a {type(model).__name__} that predicts several labels per record (one per "
                "output or indicator column); expected a classifier of one label per record (audit each "
                "label with a classifier fitted on it alone)."
            )
        if output is None or classes is None:
            raise TargetError(
                f"{source} holds a {type(model).__name__}; expected a fitted classifier (classes_ and "
                "predict_proba, decision_function or predict)."
            )
        self.classes = np.asarray(classes)
        n_features = getattr(model, "n_features_in_", None)  # 0 in a CatBoost model read back: unknown
        super().__init__(
            source=source,
            digest=digest,
            output=output,
            batch_size=batch_size,
            input_shape=(int(n_features),) if n_features else None,
        )
        self.model = model
        self.categories: Categories = ()  # the data's categorical columns (set by the audit that reads them)

    def predict(self, batch: np.ndarray) -> np.ndarray:
        return classifier_scores(self.model, batch, self.categories)

    def require_features(self, names: Sequence[str] | None) -> None:
        """Refuse a model fitted on a table whose columns are not the data's features ``names`` (a table's
        columns, in order; None when the data have no names, whose features are then taken in the model's
        order)."""
        if takes_texts(self.model) and names is not None and len(names) != 1:
            raise TargetError(
                f"{self.source} holds a {type(self.model).__name__}: {_reads_texts(self.model)}, but the "
                f"data have {len(names)} feature columns {list(names)[:6]}; set data.features to the one "
                "text column (a model of several columns picks its text column with a ColumnTransformer)."
            )
        fitted = fitted_columns(self.model)
        if fitted is not None and names is not None and list(fitted) != list(names):
            raise TargetError(
                f"{self.source} was fitted on the columns {list(fitted)[:6]} but the data's features are "
                f"{list(names)[:6]}; set data.features to the model's columns, in its order."
            )

    def require_classes(self, names: Sequence[str | int] | None, n_classes: int | None = None) -> None:
        """Refuse a model whose classes are not the data's: the class indices ``0..k-1``, or the names of
        ``data.classes`` (``names``) in the same order, compared as text; and, where the data's labels are
        indices, a model that never learned some of their ``n_classes`` (a rare class left out of its
        training)."""
        have = [str(c) for c in self.classes]
        if names is None and n_classes is not None and n_classes > len(self.classes):
            unseen = list(range(len(self.classes), n_classes))
            raise TargetError(
                f"{self.source} has classes {self.classes[:5].tolist()} but the data's labels are "
                f"{n_classes} classes, 0..{n_classes - 1}: the model never learned "
                f"class{'es' if len(unseen) > 1 else ''} "
                f"{', '.join(map(str, unseen[:5]))}; expected labels of the classes it was trained on: leave "
                "out the records of the others (they cannot be members), or make labels counted from 1 start "
                "at 0."
            )
        if names is None and not np.array_equal(self.classes, np.arange(len(self.classes))):
            raise TargetError(
                f"{self.source} has classes {have[:5]}; list them in data.classes, in this order, to read "
                "the labels as these names, or train the model on class indices 0..k-1."
            )
        if names is not None and have != [str(name) for name in names]:
            raise TargetError(
                f"{self.source} has classes {have[:5]} but data.classes lists {[str(n) for n in names][:5]}; "
                "expected the model's classes in the model's order."
            )


#: The models loaded from a file, by its path, its bytes (SHA-256) and the trust the config gave, while
#: something holds them: an audit opens its model for the target, its clones and the tuning files, and loads
#: it once (a large forest takes seconds, and its memory again, for each load).
_LOADED: weakref.WeakValueDictionary[tuple[Any, ...], Any] = weakref.WeakValueDictionary()


def open_sklearn(config: SklearnTargetConfig) -> SklearnTarget:
    """Load the classifier safely (see the module docstring); its fingerprint is the file's SHA-256. The
    same file opened with the same trust while its model is held gives that model again."""
    path = existing_file(config.path, FIELD, "a scikit-learn model file (.skops, or .joblib/.pkl)")
    loader = LOADERS[suffix_of(path, LOADERS, FIELD, "a scikit-learn model")]
    digest = sha256_file(path)
    key = (str(path.resolve()), digest, tuple(config.trusted_types), config.trust_pickle)
    model = _LOADED.get(key)
    if model is None:
        model = loader(path, config)
        with contextlib.suppress(TypeError):  # an object that takes no weak reference is loaded each time
            _LOADED[key] = model
    return SklearnTarget(model, source=f"{FIELD} '{path}'", digest=digest)

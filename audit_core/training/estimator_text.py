"""One line that says what a scikit-learn-style estimator is: its class and the parameters it sets away from
their defaults, nested estimators (a pipeline's steps, a wrapper's estimator) written the same way.

scikit-learn's ``repr`` does this for its own classes but not for estimators whose ``__init__`` takes
``**kwargs``: XGBoost's lists all of its 40 parameters, every one ``None``, and is cut at 700 characters
before the ones that were set.
"""

import inspect
from typing import Any

import numpy as np

#: The most characters one plain parameter value (a list of column names, a long string) takes.
LONGEST_VALUE = 80


def estimator_text(value: Any) -> str:
    """E.g. ``Pipeline(steps=[('scale', StandardScaler()), ('xgb', XGBClassifier(max_depth=6))])``."""
    if is_estimator(value):
        params = value.get_params(deep=False)
        defaults = _default_params(type(value))
        changed = (
            f"{name}={estimator_text(params[name])}"
            for name in params
            if name not in defaults or not _same(params[name], defaults[name])
        )
        return f"{type(value).__name__}({', '.join(changed)})"
    if isinstance(value, list) and _holds_estimator(value):
        return "[" + ", ".join(estimator_text(item) for item in value) + "]"
    if isinstance(value, tuple) and _holds_estimator(value):
        return "(" + ", ".join(estimator_text(item) for item in value) + ")"
    if isinstance(value, dict) and _holds_estimator(value):
        return "{" + ", ".join(f"{name!r}: {estimator_text(item)}" for name, item in value.items()) + "}"
    name = getattr(value, "__qualname__", None) if callable(value) else None
    return _shortened(name or repr(value))


def is_estimator(value: Any) -> bool:
    """Whether ``value`` is an estimator (an instance with ``get_params``), not an estimator class."""
    return hasattr(value, "get_params") and not isinstance(value, type)


def _holds_estimator(value: Any) -> bool:
    """Whether ``value`` is an estimator or a list, tuple or dict with one inside (a pipeline's steps)."""
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list | tuple):
        return any(_holds_estimator(item) for item in value)
    return is_estimator(value)


def _default_params(kind: type) -> dict[str, Any]:
    """The defaults the ``__init__`` of ``kind`` and of its bases name (the nearest class's first): the
    class is never instantiated, so no user code runs."""
    defaults: dict[str, Any] = {}
    for cls in kind.__mro__:
        init = cls.__dict__.get("__init__")
        if init is None or not callable(init):
            continue
        try:
            parameters = inspect.signature(init).parameters.values()
        except (TypeError, ValueError):  # a builtin's __init__: no signature
            continue
        for parameter in parameters:
            if parameter.default is not inspect.Parameter.empty:
                defaults.setdefault(parameter.name, parameter.default)
    return defaults


def _same(value: Any, default: Any) -> bool:
    """Whether a parameter holds its default (NaN where the default is NaN, equal arrays, the same object)."""
    if value is default:
        return True
    if is_estimator(value) or is_estimator(default):
        return False  # an estimator set where the default is another (or none)
    if isinstance(value, float) and isinstance(default, float) and np.isnan(value) and np.isnan(default):
        return True
    try:
        if isinstance(value, np.ndarray):
            return bool(np.array_equal(value, default))
        return bool(value == default)
    except (TypeError, ValueError):  # values that do not compare: shown
        return False


def _shortened(text: str) -> str:
    return text if len(text) <= LONGEST_VALUE else text[: LONGEST_VALUE - 3] + "..."

"""Imports the Python objects a config names as ``package.module:name`` (code the user chose to run)."""

import importlib
from typing import Any

from audit_core.core.errors import ConfigError, brief
from audit_core.core.user_code import UserCodeError, call_user_code


def import_object(path: str, field: str) -> Any:
    """The object at ``package.module:name`` (dotted attributes allowed after the colon).

    >>> import_object("math:sqrt", "target.function")(4.0)
    2.0
    """
    module_name, _, attribute = path.partition(":")
    try:
        obj: Any = call_user_code(importlib.import_module, module_name)
    except UserCodeError as failure:  # an import runs the module's code, which may fail in any way
        error = failure.cause
        raise ConfigError(
            f"{field}: module {module_name!r} cannot be imported ({type(error).__name__}: {brief(error)}); "
            "expected an importable package.module on the Python path."
        ) from None
    for name in attribute.split("."):
        if not hasattr(obj, name):
            raise ConfigError(f"{field}: {path!r} does not exist; module {module_name!r} has no {name!r}.")
        obj = getattr(obj, name)
    if not callable(obj):
        raise ConfigError(f"{field}: {path!r} is a {type(obj).__name__}; expected a function or class.")
    return obj

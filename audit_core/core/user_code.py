"""Calls into code the user supplies (models, factories, functions), which may fail in any way.

A user's model that raises ``SystemExit`` or another ``BaseException`` that is not an ``Exception`` must not
end the audit silently (or with exit code 0), and a model that never answers must not hang it:
:func:`call_user_code` turns both into a :class:`UserCodeError` the caller words as one sentence. Only
``KeyboardInterrupt`` (the person at the terminal) passes through.
"""

import threading
from collections.abc import Callable
from typing import Any


class UserCodeError(Exception):
    """User code raised ``cause`` (any exception, ``SystemExit`` included) or did not return in time (then
    ``cause`` is a ``TimeoutError``)."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.cause = cause


def call_user_code(
    function: Callable[..., Any], *args: Any, timeout_s: float | None = None, **kwargs: Any
) -> Any:
    """``function(*args, **kwargs)``; with ``timeout_s``, on a daemon thread waited for that long (a call that
    never returns cannot be stopped, only abandoned).

    >>> call_user_code(int, "7")
    7
    >>> import sys
    >>> call_user_code(sys.exit, 0)
    Traceback (most recent call last):
    ...
    audit_core.core.user_code.UserCodeError: SystemExit: 0
    """
    if timeout_s is None:
        try:
            return function(*args, **kwargs)
        except KeyboardInterrupt:
            raise
        except BaseException as error:  # the user's code may raise anything, SystemExit(0) included
            raise UserCodeError(error) from None
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = function(*args, **kwargs)
        except BaseException as error:  # carried back to the calling thread
            outcome["error"] = error

    worker = threading.Thread(target=run, name=f"dynaudit-user-call-{getattr(function, '__name__', '')}")
    worker.daemon = True
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        raise UserCodeError(TimeoutError(f"no answer within {timeout_s:g} s"))
    if "error" in outcome:
        raise UserCodeError(outcome["error"])
    return outcome["value"]

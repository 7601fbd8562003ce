"""Calls into code the user supplies (models, factories, functions), which may fail in any way.

A user's model that raises ``SystemExit`` or another ``BaseException`` that is not an ``Exception`` must not
end the audit silently (or with exit code 0), and a model that never answers must not hang it:
:func:`call_user_code` turns both into a :class:`UserCodeError` the caller words as one sentence. Only
``KeyboardInterrupt`` (the person at the terminal) passes through.
"""

import os
import queue
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

#: What the user's code (a ``callable`` target, a ``function`` trainer and the models it returns) receives for
#: numeric records, whatever precision the data hold: float32 arrays, as the README promises.
USER_CODE_FLOAT = np.dtype(np.float32)


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
    never returns cannot be stopped, only abandoned); the thread stays for later calls (:class:`_Callers`).

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
    return _CALLERS.call(function, args, kwargs, timeout_s)


def user_records(features: np.ndarray) -> np.ndarray:
    """``features`` as the user's code receives them: float records as :data:`USER_CODE_FLOAT`, others as
    they are (a table's raw fields, text)."""
    return features.astype(USER_CODE_FLOAT, copy=False) if features.dtype.kind == "f" else features


Request = tuple[Callable[..., Any], tuple, dict[str, Any], dict[str, Any], threading.Event]


class _Callers:
    """Daemon threads that run bounded user calls and then wait for the next one, never exiting.

    A thread per call would exit after each, and a thread still exiting (its native libraries' per-thread
    clean-up, after ``join`` has returned) when the audit forks its workers can leave a library's lock taken
    in the child, which then spins forever (seen with MKL's allocator). A thread whose call timed out is
    abandoned; the next call starts another. A forked child starts its own (the parent's are not in it).
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.idle: list[queue.SimpleQueue[Request]] = []
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        self.lock = threading.Lock()
        self.idle = []

    def call(
        self, function: Callable[..., Any], args: tuple, kwargs: dict[str, Any], timeout_s: float
    ) -> Any:
        with self.lock:
            inbox = self.idle.pop() if self.idle else None
        if inbox is None:
            inbox = queue.SimpleQueue()
            threading.Thread(target=_serve, args=(inbox,), name="dynaudit-user-calls", daemon=True).start()
        outcome: dict[str, Any] = {}
        done = threading.Event()
        inbox.put((function, args, kwargs, outcome, done))
        if not done.wait(timeout_s):  # the thread is left to its call
            raise UserCodeError(TimeoutError(f"no answer within {timeout_s:g} s"))
        with self.lock:
            self.idle.append(inbox)
        if "error" in outcome:
            raise UserCodeError(outcome["error"])
        return outcome["value"]


def _serve(inbox: queue.SimpleQueue[Request]) -> None:
    while True:
        function, args, kwargs, outcome, done = inbox.get()
        try:
            outcome["value"] = function(*args, **kwargs)
        except BaseException as error:  # carried back to the calling thread
            outcome["error"] = error
        done.set()


_CALLERS = _Callers()

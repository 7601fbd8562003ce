"""Prefect's console lines about a bad input that the command states in one sentence, held back.

A bad input can show only while a flow runs (a model that answers NaN for some batches, a tuning budget that
no setting meets): it is an :class:`~audit_core.core.errors.AuditInputError`, and the command ends with its
sentence and exit code 2. Prefect logs the same failure first, with tracebacks, on its console; within
:func:`bad_input_said_once` those lines are held back there. Prefect's server, and so its UI, still receives
them, and ``--verbose`` (which does not use this) shows them.
"""

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager

from prefect.logging.handlers import PrefectConsoleHandler

from audit_core.core.errors import AuditInputError

#: How Prefect words a failed run's state: "Task run encountered an exception DataError: <sentence>" (a flow
#: run's has a colon after "exception").
FAILED_STATE = re.compile(r"encountered an exception:? (\w+): ")


def _bad_input_names() -> set[str]:
    """The names of :class:`AuditInputError` and of every subclass defined so far."""
    names, classes = set(), [AuditInputError]
    while classes:
        cls = classes.pop()
        names.add(cls.__name__)
        classes += cls.__subclasses__()
    return names


class BadInputLines(logging.Filter):
    """Drops a record that carries a bad input's exception, or that reports a run failed by one (Prefect
    logs the failed state of a task that is not retried without the exception)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            return not isinstance(record.exc_info[1], AuditInputError)
        failed = FAILED_STATE.search(record.getMessage())
        return failed is None or failed.group(1) not in _bad_input_names()


@contextmanager
def bad_input_said_once() -> Iterator[None]:
    """Within it, Prefect's console handlers leave out the lines about a bad input (module docstring)."""
    handlers = [h for h in logging.getLogger().handlers if isinstance(h, PrefectConsoleHandler)]
    lines = BadInputLines()
    for handler in handlers:
        handler.addFilter(lines)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(lines)

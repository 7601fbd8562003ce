"""Prefect's console lines about a bad input are held back; those about any other failure are kept."""

import logging
import sys

import pytest

from audit_core.core.errors import ConfigError, DataError
from audit_core.tuning.search import TuningError
from flows.bad_input_logs import BadInputLines, bad_input_said_once


def _record(message: str, error: BaseException | None = None) -> logging.LogRecord:
    exc_info = None
    if error is not None:
        try:
            raise error
        except BaseException:
            exc_info = sys.exc_info()
    return logging.LogRecord("prefect.task_runs", logging.ERROR, __file__, 1, message, None, exc_info)


@pytest.mark.parametrize(
    ("message", "error", "shown"),
    [
        ("Task run failed with exception: DataError('x')", DataError("data.members: 'a.png' is bad."), False),
        ("Encountered exception during execution: TuningError('x')", TuningError("No setting."), False),
        ("Encountered exception during execution: RuntimeError('x')", RuntimeError("a bug"), True),
        (
            "Finished in state Failed(\"Task run encountered an exception DataError: data.members: 'a'\")",
            None,
            False,
        ),
        ("Finished in state Failed('Flow run encountered an exception: ConfigError: field x')", None, False),
        ("Finished in state Failed('Task run encountered an exception RuntimeError: a bug')", None, True),
        ("Finished in state Failed('Task run encountered an exception KeyError: DataError: x')", None, True),
        ("Error logging to API", None, True),
    ],
)
def test_only_the_lines_about_a_bad_input_are_held_back(message, error, shown):
    assert BadInputLines().filter(_record(message, error)) is shown


def test_the_filter_is_on_prefects_console_handlers_only_within_the_block():
    import prefect.main  # noqa: F401 (sets up Prefect's logging)
    from prefect.logging.handlers import PrefectConsoleHandler

    [console] = [h for h in logging.getLogger().handlers if isinstance(h, PrefectConsoleHandler)]
    with bad_input_said_once():
        assert not console.filter(_record("x", ConfigError("field y is invalid.")))
        assert console.filter(_record("x", ValueError("a bug")))
    assert console.filter(_record("x", ConfigError("field y is invalid.")))

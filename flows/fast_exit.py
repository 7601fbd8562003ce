"""The command line's exit without the interpreter's teardown.

After a command has finished and every exit handler has run (Prefect's temporary server stopped, the log
handlers flushed, worker processes ended), CPython still frees each object and module one by one: about
3.5 s after the demo audit on 2 cores, spent on memory the operating system takes back at once. The console
script arms :func:`arm` with its exit code; the handler below, registered before any other (``flows``
imports this module first, and exit handlers run last-registered first), then flushes the standard streams
and ends the process with that code. Imported as a library, or by the tests, it is never armed and changes
nothing.
"""

import atexit
import contextlib
import os
import sys

_exit_code: list[int] = []


def arm(code: int) -> None:
    """End the process with ``code`` once every other exit handler has run."""
    _exit_code[:] = [code]


def _end_without_teardown() -> None:
    if not _exit_code:
        return
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # closed or broken (a pipe whose reader left)
            stream.flush()
    os._exit(_exit_code[0])


atexit.register(_end_without_teardown)

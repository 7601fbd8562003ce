"""A progress bar for the terminal: redrawn in place on a TTY, plain lines in logs and CI."""

import sys
from typing import TextIO

BAR_WIDTH = 30
LOG_STEPS = 10  # without a TTY: one line per tenth of the way


class TerminalProgress:
    """A ``(done, total)`` callback that shows ``reference models  12/64 [=====     ]  19%`` on ``stream``
    (standard error by default): one line redrawn with ``\\r`` on a terminal, ended when ``done`` reaches
    ``total``; elsewhere a new line each time another tenth is done, so logs stay short."""

    def __init__(self, label: str, stream: TextIO | None = None) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.redraw = self.stream.isatty()
        self._logged_step = -1

    def line(self, done: int, total: int) -> str:
        """The progress line for ``done`` of ``total``, without a line end."""
        filled = BAR_WIDTH * done // total
        bar = "=" * filled + " " * (BAR_WIDTH - filled)
        return f"{self.label}  {done}/{total} [{bar}] {100 * done // total:3d}%"

    def __call__(self, done: int, total: int) -> None:
        if self.redraw:
            self.stream.write(f"\r{self.line(done, total)}" + ("\n" if done == total else ""))
        else:
            step = LOG_STEPS * done // total
            if step == self._logged_step:
                return
            self._logged_step = step
            self.stream.write(self.line(done, total) + "\n")
        self.stream.flush()

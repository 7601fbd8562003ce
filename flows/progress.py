"""A progress bar for the terminal: rich's live bar on a TTY, plain lines in logs and CI."""

import sys
from collections.abc import Callable
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn

from tasks.artifacts import StepsPassed, artifact_key, progress_reporter

BAR_WIDTH = 30
LOG_STEPS = 10  # without a TTY: one line per tenth of the way


class TerminalProgress:
    """A ``(done, total)`` callback that shows ``reference models  12/64 ━━━━━     19%`` on ``stream``
    (standard error by default): rich's bar, redrawn in place on a terminal and left complete when ``done``
    reaches ``total``; elsewhere a plain line (``reference models  12/64 [=====     ]  18%``) each time
    another ``1 / log_steps`` of the way is done, so logs stay short."""

    def __init__(self, label: str, stream: TextIO | None = None, log_steps: int = LOG_STEPS) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.redraw = self.stream.isatty()
        self._log_line = StepsPassed(log_steps)
        self._bar: Progress | None = None

    def line(self, done: int, total: int) -> str:
        """The plain progress line for ``done`` of ``total``, without a line end."""
        filled = BAR_WIDTH * done // total
        bar = "=" * filled + " " * (BAR_WIDTH - filled)
        return f"{self.label}  {done}/{total} [{bar}] {100 * done // total:3d}%"

    def __call__(self, done: int, total: int) -> None:
        if self.redraw:
            self._draw(done, total)
            return
        if not self._log_line(done, total):
            return
        self.stream.write(self.line(done, total) + "\n")
        self.stream.flush()

    def _draw(self, done: int, total: int) -> None:
        if self._bar is None:
            self._bar = Progress(
                TextColumn(self.label),
                MofNCompleteColumn(),
                BarColumn(bar_width=BAR_WIDTH),
                TaskProgressColumn(),
                console=Console(file=self.stream, force_terminal=True),
                auto_refresh=False,
            )
            self._task = self._bar.add_task(self.label, total=total)
            self._bar.start()
        self._bar.update(self._task, completed=done, total=total, refresh=True)
        if done == total:
            self._bar.stop()
            self._bar = None


def step_progress(
    kind: str, run_name: str, description: str, log_steps: int = LOG_STEPS
) -> Callable[[int, int], None]:
    """A ``(done, total)`` callback for one step of a run: a Prefect progress artifact keyed ``kind`` and the
    run's name, and a :class:`TerminalProgress` labelled ``kind`` in words."""
    artifact = progress_reporter(artifact_key(kind, run_name), description)
    terminal = TerminalProgress(kind.replace("-", " "), log_steps=log_steps)

    def report(done: int, total: int) -> None:
        artifact(done, total)
        terminal(done, total)

    return report

"""Each distinct warning printed once per command: a user's model that warns when it is fitted (say, a
``ConvergenceWarning``) warns for every clone the audit fits, and Python's own once-only filters forget what
they showed whenever code (scikit-learn's parallel helpers among it) changes the warning filters."""

import threading
import warnings
from typing import Any


def show_each_warning_once() -> None:
    """Wrap :func:`warnings.showwarning` so that a warning of the same category and text as one already
    shown is not shown again in this process."""
    show, shown, lock = warnings.showwarning, set(), threading.Lock()

    def show_once(message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any) -> None:
        key = (category, str(message))
        with lock:
            if key in shown:
                return
            shown.add(key)
        show(message, category, *args, **kwargs)

    warnings.showwarning = show_once

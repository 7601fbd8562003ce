"""A user's model that warns when fitted warns once per command, not once per clone."""

import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from flows.warnings_once import show_each_warning_once

CLONES = 4


def test_clones_fitted_in_threads_print_their_convergence_warning_once():
    """Four clones of a logistic regression stopped after 3 iterations, fitted in two threads as the audit
    fits them: Python's own filters print the warning for several clones (scikit-learn's fit changes the
    filters, which makes them forget what they showed; how many depends on the threads' timing); shown
    once, it prints once, and another text still prints."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 5))
    y = (x @ rng.normal(size=5) + rng.normal(size=300) > 0).astype(int)
    model = LogisticRegression(max_iter=3)
    shown = []
    with warnings.catch_warnings():  # restores the filters and showwarning after the test
        warnings.simplefilter("default")
        warnings.showwarning = lambda message, category, *_, **__: shown.append(category)
        show_each_warning_once()
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda _: clone(model).fit(x, y), range(CLONES)))
        warnings.warn("another warning", UserWarning, stacklevel=1)
    assert shown.count(ConvergenceWarning) == 1
    assert shown.count(UserWarning) == 1

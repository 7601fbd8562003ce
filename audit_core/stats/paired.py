"""Paired differences: two outcomes measured on the same points (e.g. a test point answered right undefended
and wrong defended), where only the points whose outcomes differ carry information about the difference."""

import numpy as np

from audit_core.stats.metrics import Estimate


def paired_difference(
    first: np.ndarray,
    second: np.ndarray,
    *,
    rng: np.random.Generator,
    level: float = 0.95,
    n_bootstrap: int = 2000,
) -> Estimate:
    """``mean(first) - mean(second)`` of two boolean outcomes on the same points, with a paired percentile
    bootstrap interval: points are resampled with both outcomes together, so only the discordant points
    (``first`` and ``second`` differ) vary; when no point's outcome changed the interval is exactly [0, 0].

    >>> right = np.array([True, True, False, True])
    >>> paired_difference(right, right, rng=np.random.default_rng(0))
    Estimate(value=0.0, ci_low=0.0, ci_high=0.0)
    """
    first, second = np.asarray(first, dtype=bool), np.asarray(second, dtype=bool)
    if first.shape != second.shape or first.size == 0:
        raise ValueError("a paired difference needs two outcomes for each of at least one point.")
    n = first.size
    gained, lost = int((first & ~second).sum()), int((~first & second).sum())
    value = (gained - lost) / n
    # The bootstrap mean of per-point differences in {+1, 0, -1} depends only on how many of each are drawn.
    counts = rng.multinomial(n, [gained / n, lost / n, (n - gained - lost) / n], size=n_bootstrap)
    replicates = (counts[:, 0] - counts[:, 1]) / n
    low, high = np.quantile(replicates, [(1 - level) / 2, (1 + level) / 2])
    return Estimate(float(value), float(low), float(high))

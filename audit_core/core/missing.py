"""Per-feature statistics of records that may have missing values (NaN), which they leave out."""

import numpy as np


def feature_spread(features: np.ndarray) -> np.ndarray:
    """Each feature's standard deviation over the records ``(n, ...)``, missing values left out (0 for a
    feature missing from every record); ``features.std(axis=0)`` when nothing is missing.

    >>> feature_spread(np.array([[1.0, np.nan], [3.0, np.nan], [np.nan, np.nan]])).tolist()
    [1.0, 0.0]
    """
    values = features.astype(np.float64)
    seen = ~np.isnan(values)
    if seen.all():
        return values.std(axis=0)
    count = np.maximum(seen.sum(axis=0), 1)
    mean = np.where(seen, values, 0.0).sum(axis=0) / count
    return np.sqrt((np.where(seen, values - mean, 0.0) ** 2).sum(axis=0) / count)


def feature_range(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each feature's minimum and maximum over the records ``(n, ...)``, missing values left out (NaN for a
    feature missing from every record).

    >>> low, high = feature_range(np.array([[1.0, np.nan], [3.0, np.nan], [np.nan, np.nan]]))
    >>> low.tolist(), high.tolist()
    ([1.0, nan], [3.0, nan])
    """
    return np.fmin.reduce(features, axis=0), np.fmax.reduce(features, axis=0)

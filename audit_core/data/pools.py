"""Audit parts drawn at random from a standard data set's pools (CIFAR-10 train/test, ImageNet train/val)."""

import numpy as np

from audit_core.config import PoolDraw
from audit_core.core.errors import DataError
from audit_core.data.base import PARTS


def draw_parts(
    draws: dict[str, PoolDraw], pool_sizes: dict[str, int], seed: int
) -> dict[str, tuple[str, np.ndarray]]:
    """``part -> (pool, record indices)``: each pool is shuffled once and parts take consecutive slices, in
    the order members, non-members, population, test, so no record lands in two parts.

    >>> from audit_core.config import PoolDraw
    >>> d = {p: PoolDraw(pool="train", count=2) for p in ("members", "non_members", "population", "test")}
    >>> sorted(len(i) for _, i in draw_parts(d, {"train": 8}, seed=0).values())
    [2, 2, 2, 2]
    """
    rng = np.random.default_rng(seed)
    orders = {pool: rng.permutation(size) for pool, size in sorted(pool_sizes.items())}
    taken = dict.fromkeys(pool_sizes, 0)
    parts = {}
    for part in PARTS:
        draw = draws[part]
        if draw.pool not in pool_sizes:
            raise DataError(
                f"data.{part}.pool: {draw.pool!r} is not a pool of this data set; expected one of "
                f"{sorted(pool_sizes)}."
            )
        left = pool_sizes[draw.pool] - taken[draw.pool]
        count = left if draw.count is None else draw.count
        if count > left or count == 0:
            raise DataError(
                f"data.{part}.count: asks for {draw.count or 'the remaining'} records of pool {draw.pool!r}, "
                f"but {left} of its {pool_sizes[draw.pool]} remain after the parts before it; lower the "
                "counts or draw from another pool."
            )
        start = taken[draw.pool]
        parts[part] = (draw.pool, orders[draw.pool][start : start + count])
        taken[draw.pool] += count
    return parts

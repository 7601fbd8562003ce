"""The averaging attacker's sums of answers to near-duplicate queries, continued rather than recomputed.

Against noise keyed by the query (DynaNoise ``per_input``) the averaging attacker's mean of ``q`` answers sums
the answers to the near-duplicates ``0, 1, ..., q - 1`` of each query, left to right
(:func:`audit_core.audit.evaluation.observe`); the next step of its doubling schedule sums ``0, ..., 2q - 1``:
the same first ``q`` answers, added in the same order. Such a defense draws nothing from the attacker's
generator (its answers are a function of the query) and answers each query row on its own, so the running sum
of the first ``q`` answers to a query row, remembered, continues to the sum of ``2q`` bit for bit, at half the
answers. Sums are kept per row, not per batch: a label-only attack's bisection asks a different batch at each
budget once one record's path differs, yet most of its rows are the queries of the budget before.
"""

import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from audit_core.core.lru import BytesLRU

#: Bytes of running sums kept (the least recently used go first): a query row of 10 classes is kept in 400
#: bytes; the demo's tuned per-input condition keeps 84,000 rows (32 MiB).
MAX_BYTES = 128 * 2**20
ROW_OVERHEAD = 240  # bytes per kept row besides its query and its sum: the key tuple, two objects, a slot

#: ``answer(step, rows)``: the answers to the near-duplicates ``step`` of the batch's rows ``rows``.
Answer = Callable[[int, np.ndarray], np.ndarray]


class RunningSums:
    """Running sums of a keyed defense's answers to each query row's near-duplicates, by (defense, row)."""

    def __init__(self, max_bytes: int) -> None:
        self.sums = BytesLRU[tuple[int, bytes], tuple[int, np.ndarray]](max_bytes)  # (count, sum) per row
        self.lock = threading.Lock()
        self.tokens: dict[Any, int] = {}  # defense -> a number of its own: a row's key hashes that, not it

    def total(self, defense: Any, batch: np.ndarray, count: int, answer: Answer) -> np.ndarray:
        """Per row of ``batch`` ``(n, k)``: its answers to the near-duplicates ``0, 1, ..., count - 1``,
        added left to right from ``0`` as :func:`sum` does. A row whose sum of at most ``count`` terms is
        remembered continues it; ``answer`` must answer each row as it would within any batch, and
        ``defense`` be hashable and equal only to a defense that answers identically."""
        rows = [row.tobytes() for row in np.ascontiguousarray(batch)]
        with self.lock:
            token = self.tokens.setdefault(defense, len(self.tokens))
            keys = [(token, row) for row in rows]
            found = [self.sums.get(key, touch=False) for key in keys]
        done = np.array([0 if f is None or f[0] > count else f[0] for f in found], dtype=np.int64)
        total = np.zeros(batch.shape)
        for start in np.unique(done):  # rows whose sums stop at the same count continue together
            picked = np.flatnonzero(done == start)
            part: Any = np.stack([found[i][1] for i in picked]) if start else 0
            for step in range(start, count):
                part = part + answer(step, picked)
            total[picked] = part
        with self.lock:
            for i, key in enumerate(keys):
                if found[i] is None or found[i][0] < count:  # a longer remembered sum stays
                    row_sum = total[i].copy()
                    self.sums.put(key, (count, row_sum), len(key[1]) + row_sum.nbytes + ROW_OVERHEAD)
                else:
                    self.sums.get(key)  # used: the most recent now
        return total

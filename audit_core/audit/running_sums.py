"""The averaging attacker's sums of answers to near-duplicate queries, continued rather than recomputed.

Against noise keyed by the query (DynaNoise ``per_input``) the averaging attacker's mean of ``q`` answers sums
the answers to the near-duplicates ``0, 1, ..., q - 1`` of each query, left to right
(:func:`audit_core.audit.evaluation.observe`); the next step of its doubling schedule sums ``0, ..., 2q - 1``:
the same first ``q`` answers, added in the same order. Such a defense draws nothing from the attacker's
generator (its answers are a function of the query), so the running sum of the first ``q`` answers to a batch,
remembered, continues to the sum of ``2q`` bit for bit, at half the answers.
"""

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

#: Bytes of running sums kept (the least recently used go first): a sum is one batch's shape, so 128 MiB hold
#: the demo's every batch (a few hundred of at most 4,096 x 10 float64).
MAX_BYTES = 128 * 2**20


class RunningSums:
    """Running sums of a keyed defense's answers to the near-duplicates of a batch, by (defense, batch)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.sums: OrderedDict[tuple[Any, bytes], tuple[int, np.ndarray]] = OrderedDict()
        self.bytes = 0
        self.lock = threading.Lock()

    def total(
        self, defense: Any, batch: np.ndarray, count: int, answer: Callable[[int], np.ndarray]
    ) -> np.ndarray:
        """``answer(0) + answer(1) + ... + answer(count - 1)``, added left to right from ``0`` as
        :func:`sum` does, continuing the sum remembered for ``(defense, batch)`` if it has at most ``count``
        terms. ``defense`` must be hashable and equal only to a defense that answers identically."""
        key = (defense, hashlib.blake2b(batch.tobytes() + str(batch.shape).encode()).digest())
        with self.lock:
            done, total = self.sums.get(key, (0, 0))
            if 0 < done <= count:
                self.sums.move_to_end(key)
        if done > count:  # a longer sum is remembered: this one is computed afresh and not kept
            return sum((answer(index) for index in range(count)), 0)
        for index in range(done, count):
            total = total + answer(index)
        if count > done:
            self._remember(key, count, total)
        return total

    def _remember(self, key: tuple[Any, bytes], count: int, total: np.ndarray) -> None:
        with self.lock:
            if key in self.sums:
                self.bytes -= self.sums.pop(key)[1].nbytes
            self.sums[key] = (count, total)
            self.bytes += total.nbytes
            while self.bytes > self.max_bytes:
                self.bytes -= self.sums.popitem(last=False)[1][1].nbytes

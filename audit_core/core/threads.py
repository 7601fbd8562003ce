"""How many threads a process computes with: one, where it owns one core beside other busy processes."""

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from threadpoolctl import threadpool_limits


@contextmanager
def one_thread() -> Iterator[None]:
    """One torch thread and one BLAS/OpenMP thread inside the block, for a process that owns one CPU slot
    (a worker, or a parent computing beside its workers); torch's thread count is restored after it."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            yield
    finally:
        torch.set_num_threads(before)

"""Independent computations of one audit spread over forked worker processes that inherit their inputs.

The conditions of an audit, and the baselines' grid points of a tuning, are each a pure function of inputs
already in memory (logits, the target, fitted defenses, the attacks' memos). :func:`forked_map` forks its
workers once, after those inputs exist, so they inherit them as they are (nothing is pickled but an index
going out and a result coming back), and computes ``function(item)`` for each item there, one torch and one
BLAS thread per worker. The results are those of the same calls made here, in the order of ``items``.

It falls back to calling ``function`` in this process where forking is unsafe or useless: no ``fork`` (not
on Linux or macOS), a CUDA context already made here (a forked child cannot use it), one core, or
``DYNAUDIT_WORKERS=0`` (the environment variable also caps the workers).
"""

import gc
import itertools
import multiprocessing
import os
import signal
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from contextlib import contextmanager, nullcontext
from typing import Any, Generic, TypeVar

import torch
from threadpoolctl import threadpool_limits

from audit_core.core.threads import one_thread

T = TypeVar("T")
R = TypeVar("R")

WORKERS_VARIABLE = "DYNAUDIT_WORKERS"

# Work handed to the workers a fork makes: token -> (function, items). A worker reads its own copy; the
# parent drops the entry when the block ends.
_INHERITED: dict[int, tuple[Callable[[Any], Any], Sequence[Any]]] = {}
_tokens = itertools.count()
#: True in the workers :func:`forked_map` forks (:func:`in_worker`).
_worker = False


def available_cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def worker_count(items: int, busy_here: bool = False) -> int:
    """How many workers :func:`forked_map` forks for ``items`` calls: one per core (less the one this process
    keeps busy meanwhile when ``busy_here``), at most one per item and at most ``DYNAUDIT_WORKERS``; 0 where
    forking is unsafe or would not help."""
    unsafe = "fork" not in multiprocessing.get_all_start_methods() or torch.cuda.is_initialized()
    cores = available_cores() - busy_here
    cap = os.environ.get(WORKERS_VARIABLE, "").strip()
    if cap.isdigit():
        cores = min(cores, int(cap))
    workers = min(cores, items)
    return 0 if unsafe or workers < (1 if busy_here else 2) else workers


def in_worker() -> bool:
    """Whether this process is a worker :func:`forked_map` forked, which owns one core."""
    return _worker


def _start_worker() -> None:
    """A worker owns one core: one torch and one BLAS/OpenMP thread. Ctrl-C is its parent's to handle, and
    SIGTERM ends it as the operating system does (not through a handler the parent installed, such as the
    command line's)."""
    global _worker
    _worker = True
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    torch.set_num_threads(1)
    threadpool_limits(1)


def _call_inherited(token: int, index: int) -> Any:
    function, items = _INHERITED[token]
    return function(items[index])


@contextmanager
def forked_map(
    function: Callable[[T], R],
    items: Sequence[T],
    *,
    busy_here: bool = False,
    costly: Callable[[T], bool] | None = None,
    first: int = 0,
) -> Iterator[Callable[..., list[R]]]:
    """Start ``[function(item) for item in items]`` in forked workers (:func:`worker_count`); yield a callable
    that waits for the results and returns them in the order of ``items``. The items ``costly`` marks are
    started first, then later items before earlier ones (an audit's tuned condition, added last, tends to
    cost the most): the longest first, so that no core is left with one long item at the end. A worker's
    exception is raised by that callable; leaving the block early ends the workers. Without workers the
    calls run here, when the results are asked for. With ``busy_here`` this process computes on one thread
    inside the block (the workers hold the other cores; more threads here would contend with them for no
    gain), and once its own work is done the callable computes here, one at a time, the next item no worker
    has started yet. The ``first`` items are started before all others, in order: results wanted early, which
    ``results(first)`` returns alone (computed here too, with ``busy_here``); ``results()`` then returns every
    item's."""
    workers = worker_count(len(items), busy_here)
    if workers == 0:
        yield _Results(function, items, {}, share=False)
        return
    token = next(_tokens)
    _INHERITED[token] = (function, items)
    pool = ProcessPoolExecutor(workers, multiprocessing.get_context("fork"), initializer=_start_worker)
    try:
        order = list(reversed(range(first, len(items))))
        if costly is not None:
            order.sort(key=lambda index: not costly(items[index]))  # stable: later first among equals
        order = [*range(first), *order]
        with _frozen_garbage():
            futures = {index: pool.submit(_call_inherited, token, index) for index in order}  # the 1st forks
        with one_thread() if busy_here else nullcontext():  # this process owns one core beside them
            yield _Results(function, items, futures, share=busy_here)
    except BaseException:
        _end_now(pool)
        raise
    finally:
        _INHERITED.pop(token, None)
        pool.shutdown(wait=True, cancel_futures=True)


@contextmanager
def _frozen_garbage() -> Iterator[None]:
    """Within it, what this process holds is out of reach of the garbage collector of a child forked then: a
    worker never destroys what it copied and does not use. Prefect's services, asyncio tasks on a loop
    thread here that a forked child forgets (``os.register_at_fork``), would otherwise be destroyed there at
    some collection, printing "Task was destroyed but it is pending!" and a failed cleanup into the output.
    This process's objects return to its own collector on leaving."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


class _Results(Generic[T, R]):
    """The results of ``forked_map``'s items, in order: those of ``futures`` from the workers (with ``share``,
    those none of them has started are computed here instead, in the workers' order), the others here."""

    def __init__(
        self, function: Callable[[T], R], items: Sequence[T], futures: dict[int, Future], share: bool
    ) -> None:
        self.function, self.items, self.futures, self.share = function, items, futures, share
        self.here: dict[int, R] = {}

    def __call__(
        self, count: int | None = None, on_done: Callable[[int, int], None] | None = None
    ) -> list[R]:
        """The results of the first ``count`` items (of every item by default); ``on_done(done, total)`` is
        called as each of them is ready (first with those already computed here)."""
        wanted = range(len(self.items) if count is None else count)
        report = on_done or (lambda done, total: None)
        done = sum(index in self.here for index in wanted)
        report(done, len(wanted))

        def compute_here(index: int) -> None:
            nonlocal done
            self.here[index] = self.function(self.items[index])
            done += 1
            report(done, len(wanted))

        for index in self.futures if self.share else ():
            if index in wanted and index not in self.here and self.futures[index].cancel():
                compute_here(index)  # not started: no worker will now
        for index in wanted:
            if index not in self.here and index not in self.futures:
                compute_here(index)
        for future in as_completed([self.futures[i] for i in wanted if i not in self.here]):
            future.result()  # a worker's exception is raised now, not after the others finish
            done += 1
            report(done, len(wanted))
        return [self.here[i] if i in self.here else self.futures[i].result() for i in wanted]


def _end_now(pool: ProcessPoolExecutor) -> None:
    """Kill ``pool``'s workers mid-call (they ignore Ctrl-C and hold nothing to clean up), so an error or an
    interrupt here does not wait for work nobody will read. The executor keeps its processes in
    ``_processes`` (no public way before Python 3.14's ``kill_workers``)."""
    for process in list(getattr(pool, "_processes", {}).values()):
        process.kill()

"""Per-input noise's keyed hash of many rows, shared with worker processes on the machine's other cores.

An averaging attacker against per-input DynaNoise asks millions of distinct rows, each hashed by Python calls
(:func:`~audit_core.defenses.row_hashing.hash_rows`, about 1.5 microseconds a row). A batch of at least
``2 * MIN_ROWS_PER_PART`` rows is cut into parts: this process hashes one while each worker hashes another.
A worker is a plain Python process running ``row_hashing.py`` by its path (standard library only, ready in
milliseconds), started at the first such batch and ended when this process ends (its input closes). The
bytes are those computed in-process; a worker that fails is not used again and its part is computed here.
"""

import atexit
import itertools
import os
import subprocess
import sys
import threading
from pathlib import Path

from audit_core.defenses import row_hashing
from audit_core.defenses.row_hashing import HEADER, hash_rows, read_exactly

MIN_ROWS_PER_PART = 1024  # a part costs over a millisecond, against a tenth of one for the pipes
MAX_WORKERS = 7


def default_workers() -> int:
    """One worker per other core this process may run on, at most ``MAX_WORKERS``."""
    return min(MAX_WORKERS, len(os.sched_getaffinity(0)) - 1) if hasattr(os, "sched_getaffinity") else 0


class HashWorkers:
    """Up to ``count`` worker processes that hash parts of large batches; thread-safe (a thread finding
    them busy hashes alone)."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.owner = os.getpid()  # a forked child must not talk to its parent's workers
        self.processes: list[subprocess.Popen] = []
        self.failed = False
        self.lock = threading.Lock()

    def hash(self, data: bytes, rows: int, key: bytes, size: int) -> bytes:
        """:func:`hash_rows` of ``data``, its parts spread over the workers when it is large enough."""
        parts = min(self.count + 1, rows // MIN_ROWS_PER_PART)
        if parts < 2 or self.failed or not self.lock.acquire(blocking=False):
            return hash_rows(data, rows, key, size)
        try:
            return self._hash_in_parts(data, rows, key, size, parts)
        finally:
            self.lock.release()

    def _hash_in_parts(self, data: bytes, rows: int, key: bytes, size: int, parts: int) -> bytes:
        width = len(data) // rows
        bounds = [rows * i // parts for i in range(parts + 1)]
        chunks = [(data[a * width : b * width], b - a) for a, b in itertools.pairwise(bounds)]
        workers = self._started(parts - 1)
        asked = [self._ask(w, key, size, width, *chunk) for w, chunk in zip(workers, chunks[1:], strict=True)]
        outputs = [hash_rows(*chunks[0], key, size)]
        for worker, (chunk, count) in zip(asked, chunks[1:], strict=True):
            answer = None if worker is None else self._answer(worker, count * size)
            outputs.append(answer if answer is not None else hash_rows(chunk, count, key, size))
        return b"".join(outputs)

    def _ask(
        self, worker: subprocess.Popen, key: bytes, size: int, width: int, chunk: bytes, count: int
    ) -> subprocess.Popen | None:
        """Send ``worker`` its part; the worker, or None (and no worker used again) if it is gone."""
        try:
            worker.stdin.write(HEADER.pack(len(key), size, width, count) + key + chunk)
            worker.stdin.flush()
        except OSError:
            self.failed = True
            return None
        return worker

    def _answer(self, worker: subprocess.Popen, length: int) -> bytes | None:
        answer = read_exactly(worker.stdout, length)
        if answer is None:
            self.failed = True
        return answer

    def _started(self, needed: int) -> list[subprocess.Popen]:
        """``needed`` running workers of this process, started now where missing."""
        if self.owner != os.getpid():
            self.owner, self.processes = os.getpid(), []
        while len(self.processes) < needed:
            self.processes.append(
                subprocess.Popen(
                    [sys.executable, "-I", str(Path(row_hashing.__file__))],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                )
            )
        return self.processes[:needed]

    def close(self) -> None:
        """End this process's workers (their input closes)."""
        for worker in self.processes if self.owner == os.getpid() else []:
            try:
                worker.stdin.close()
                worker.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                worker.kill()
                worker.wait()
        self.processes = []


WORKERS = HashWorkers(default_workers())
atexit.register(WORKERS.close)

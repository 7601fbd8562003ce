"""Keyed hashing shared with worker processes gives the bytes hashed in-process and survives a lost worker."""

import hashlib
import hmac
import os

import numpy as np
import pytest

from audit_core.defenses import hash_workers
from audit_core.defenses.hash_workers import MIN_ROWS_PER_PART, HashWorkers
from audit_core.defenses.row_hashing import hash_rows

KEY = b"a test key of 32 bytes, not used"
SIZE = 40  # bytes per row: ten uint32 words


def _rows(count: int, seed: int = 0) -> bytes:
    return np.random.default_rng(seed).normal(size=(count, 10)).tobytes()


@pytest.fixture
def pool():
    workers = HashWorkers(2)
    yield workers
    workers.close()


def test_hash_rows_is_shake_of_the_rows_hmac():
    data = _rows(5)
    expected = b"".join(
        hashlib.shake_256(hmac.digest(KEY, data[i * 80 : (i + 1) * 80], "sha256")).digest(SIZE)
        for i in range(5)
    )
    assert hash_rows(data, 5, KEY, SIZE) == expected


def test_a_large_batch_is_cut_into_parts_that_workers_hash_to_the_same_bytes(pool):
    rows = 3 * MIN_ROWS_PER_PART + 7  # three unequal parts: this process's and two workers'
    data = _rows(rows)
    assert pool.hash(data, rows, KEY, SIZE) == hash_rows(data, rows, KEY, SIZE)
    assert len(pool.processes) == 2 and all(worker.poll() is None for worker in pool.processes)
    small = _rows(MIN_ROWS_PER_PART, seed=1)  # one part: hashed here, no request sent
    assert pool.hash(small, MIN_ROWS_PER_PART, KEY, SIZE) == hash_rows(small, MIN_ROWS_PER_PART, KEY, SIZE)


def test_a_lost_worker_is_not_used_again_and_its_part_is_hashed_here(pool):
    rows = 3 * MIN_ROWS_PER_PART
    data = _rows(rows, seed=2)
    pool.hash(data, rows, KEY, SIZE)
    pool.processes[1].kill()
    pool.processes[1].wait()
    for seed in (3, 4):  # the failed request, then one after it
        data = _rows(rows, seed=seed)
        assert pool.hash(data, rows, KEY, SIZE) == hash_rows(data, rows, KEY, SIZE)
    assert pool.failed


def test_workers_end_with_their_input(pool):
    rows = 2 * MIN_ROWS_PER_PART
    pool.hash(_rows(rows), rows, KEY, SIZE)
    started = list(pool.processes)
    pool.close()
    assert [worker.returncode for worker in started] == [0]


def test_one_core_starts_no_worker(monkeypatch):
    monkeypatch.setattr(hash_workers.os, "sched_getaffinity", lambda pid: {0})
    assert hash_workers.default_workers() == 0
    lone = HashWorkers(hash_workers.default_workers())
    rows = 4 * MIN_ROWS_PER_PART
    data = _rows(rows)
    assert lone.hash(data, rows, KEY, SIZE) == hash_rows(data, rows, KEY, SIZE) and not lone.processes


def test_a_forked_child_starts_workers_of_its_own(pool):
    rows = 2 * MIN_ROWS_PER_PART
    data = _rows(rows)
    pool.hash(data, rows, KEY, SIZE)
    parents = list(pool.processes)
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # the child hashes through workers of its own, leaving its parent's pipes alone
        same = pool.hash(data, rows, KEY, SIZE) == hash_rows(data, rows, KEY, SIZE)
        own = not set(pool.processes) & set(parents)
        pool.close()
        os.write(writer, b"1" if same and own else b"0")
        os._exit(0)
    os.waitpid(child, 0)
    assert os.read(reader, 1) == b"1"
    assert pool.hash(data, rows, KEY, SIZE) == hash_rows(data, rows, KEY, SIZE) and pool.processes == parents


def test_a_lost_first_worker_leaves_the_others_answers_on_their_own_parts():
    workers = HashWorkers(3)
    try:
        rows = 4 * MIN_ROWS_PER_PART
        workers.hash(_rows(rows), rows, KEY, SIZE)
        workers.processes[0].kill()
        workers.processes[0].wait()
        data = _rows(rows, seed=5)
        assert workers.hash(data, rows, KEY, SIZE) == hash_rows(data, rows, KEY, SIZE)
    finally:
        workers.close()

"""Per-input noise: standard normals derived from a secret-keyed hash of the query's logits.

For each row of float64 logits ``z`` (little-endian bytes) and a secret ``key``::

    seed    = HMAC-SHA256(key, bytes(z))
    stream  = SHAKE-256(seed), read as little-endian uint32 words w_1, w_2, ...
    normals = Phi^-1((w_j + 0.5) / 2^32)

The same query always gets the same noise, so averaging identical repeats gains nothing; a near-duplicate
query, though, gets fresh noise (``audit_core.audit.evaluation.near_duplicate``). Without the key the noise is
unpredictable. Every implementation (numpy, torch, TorchScript) calls this function, so they agree bit for
bit.
"""

import contextlib
import threading
from collections.abc import Iterator

import numpy as np
from scipy.special import ndtri

from audit_core.defenses.hash_workers import WORKERS

MIN_KEY_BYTES = 16
#: Rows whose normals :class:`RowMemo` keeps per generation; it holds two generations, so at most
#: ``2 * MEMO_ROWS`` rows in ``2 * MEMO_ROWS * (8 * (k + count) + MEMO_ROW_OVERHEAD)`` bytes (210 MB for 10
#: classes). The tuner applies DynaNoise to the same query rows at every trial (the label-only attacks'
#: queries included), and the per-row HMAC is what per-input noise costs.
MEMO_ROWS = 1 << 18
MEMO_ROW_OVERHEAD = 250  # bytes per remembered row besides its logits and normals: two bytes objects, a slot


def _row_normals(data: bytes, rows: int, key: bytes, count: int) -> np.ndarray:
    """The keyed normals ``(rows, count)`` of the equally long rows of ``data``, computed (large batches
    shared with worker processes: :mod:`audit_core.defenses.hash_workers`)."""
    stream = WORKERS.hash(data, rows, key, 4 * count)
    words = np.frombuffer(stream, dtype="<u4").reshape(rows, count)
    return ndtri((words + 0.5) / 2.0**32)


class RowMemo:
    """Keyed normals of the rows seen last: a row's normals are a pure function of the key, the row's bytes
    and the count, so a remembered row is exactly what computing it again gives.

    Two generations of at most ``capacity`` rows each (over every key and count): a row is looked up in both
    and added to the newer; a full newer generation replaces the older, so at most ``2 * capacity`` rows are
    held.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.newer: dict[tuple[bytes, int], dict[bytes, bytes]] = {}  # (key, count) -> row -> normals
        self.older: dict[tuple[bytes, int], dict[bytes, bytes]] = {}
        self.newer_rows = 0
        self.lock = threading.Lock()

    def __len__(self) -> int:
        return sum(len(rows) for generation in (self.newer, self.older) for rows in generation.values())

    def normals(self, rows: list[bytes], key: bytes, count: int) -> np.ndarray:
        """The keyed normals ``(len(rows), count)`` of ``rows``, the remembered ones looked up."""
        address = (key, count)
        with self.lock:
            newer, older = self.newer.get(address, {}), self.older.get(address, {})
            found = [newer.get(row) or older.get(row) for row in rows]
        missing = [i for i, value in enumerate(found) if value is None]
        if missing:
            computed = _row_normals(b"".join(rows[i] for i in missing), len(missing), key, count).tobytes()
            size = 8 * count
            values = [computed[j * size : (j + 1) * size] for j in range(len(missing))]
            for i, value in zip(missing, values, strict=True):
                found[i] = value
            with self.lock:
                self._remember(address, [(rows[i], value) for i, value in zip(missing, values, strict=True)])
        return np.frombuffer(bytearray(b"".join(found)), dtype=np.float64).reshape(len(rows), count)

    def _remember(self, address: tuple[bytes, int], pairs: list[tuple[bytes, bytes]]) -> None:
        """Add ``(row, normals)`` pairs to the newer generation, which replaces the older when full."""
        while pairs:
            room = self.capacity - self.newer_rows
            table = self.newer.setdefault(address, {})
            before = len(table)
            table.update(pairs[:room])
            self.newer_rows += len(table) - before
            pairs = pairs[room:]
            if self.newer_rows >= self.capacity:
                self.older, self.newer, self.newer_rows = self.newer, {}, 0


_memo = RowMemo(MEMO_ROWS)
_asked_once = threading.local()


@contextlib.contextmanager
def asked_once() -> Iterator[None]:
    """Within it, this thread's keyed normals are computed without looking rows up or remembering them: for
    rows nobody asks again (an averaging attacker's near-duplicates, whose sums are kept instead), where the
    memo would only cost time and evict rows that are asked again."""
    before = getattr(_asked_once, "active", False)
    _asked_once.active = True
    try:
        yield
    finally:
        _asked_once.active = before


def keyed_normals(logits: np.ndarray, key: bytes, count: int, *, remember: bool = True) -> np.ndarray:
    """``count`` standard normals per row of ``logits`` ``(n, k)``, a deterministic function of the row and
    ``key``. With ``remember`` (the audit), rows seen recently are looked up (:class:`RowMemo`); a served
    model computes every row (``remember=False``): it keeps no one's queries in memory, and its answer time
    does not tell whether the same logits were asked recently.

    >>> z = np.array([[1.0, 2.0], [1.0, 2.0], [2.0, 1.0]])
    >>> e = keyed_normals(z, b"0123456789abcdef", 4)
    >>> bool((e[0] == e[1]).all()), bool((e[0] == e[2]).all())
    (True, False)
    """
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"per-input noise needs a secret key of at least {MIN_KEY_BYTES} bytes.")
    rows = np.ascontiguousarray(logits, dtype="<f8")
    if remember and not getattr(_asked_once, "active", False) and rows.size:
        each = rows.view(np.dtype((np.void, rows[0].nbytes))).ravel().tolist()  # every row's bytes
        return _memo.normals(each, key, count)
    return _row_normals(rows.tobytes(), len(rows), key, count)

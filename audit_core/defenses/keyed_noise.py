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

import hashlib
import hmac
import threading
from collections import OrderedDict

import numpy as np
from scipy.special import ndtri

MIN_KEY_BYTES = 16
#: How many recent (logits, key, count) results :func:`keyed_normals` keeps: the tuner applies DynaNoise to
#: the same logits at every trial, and the per-row HMACs are what per-input noise costs.
CACHE_SIZE = 64

_cache: OrderedDict[tuple, np.ndarray] = OrderedDict()
_cache_lock = threading.Lock()


def keyed_normals(logits: np.ndarray, key: bytes, count: int) -> np.ndarray:
    """``count`` standard normals per row of ``logits`` ``(n, k)``, a deterministic function of the row and
    ``key``.

    >>> z = np.array([[1.0, 2.0], [1.0, 2.0], [2.0, 1.0]])
    >>> e = keyed_normals(z, b"0123456789abcdef", 4)
    >>> bool((e[0] == e[1]).all()), bool((e[0] == e[2]).all())
    (True, False)
    """
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"per-input noise needs a secret key of at least {MIN_KEY_BYTES} bytes.")
    rows = np.ascontiguousarray(logits, dtype="<f8")
    address = (key, count, rows.shape, hashlib.blake2b(rows.tobytes()).digest())
    with _cache_lock:
        if address in _cache:
            _cache.move_to_end(address)
            return _cache[address].copy()
    stream = b"".join(
        hashlib.shake_256(hmac.digest(key, row.tobytes(), "sha256")).digest(4 * count) for row in rows
    )
    words = np.frombuffer(stream, dtype="<u4").reshape(len(rows), count)
    normals = ndtri((words + 0.5) / 2.0**32)
    with _cache_lock:
        _cache[address] = normals.copy()
        if len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return normals

"""The keyed hash of per-input noise, row by row: ``SHAKE-256(HMAC-SHA256(key, row))``, and a worker that
computes it for another process.

This module imports only the standard library, so that a worker process started by its path
(:mod:`audit_core.defenses.hash_workers`) is ready in a few milliseconds; in-process,
:mod:`audit_core.defenses.keyed_noise` computes the same :func:`hash_rows`.

Worker protocol over standard input and output: a request is the header ``<IIII`` (key bytes, output bytes
per row, input bytes per row, rows), the key, then the rows back to back; the answer is each row's output back
to back. End of input ends the worker.
"""

import hashlib
import struct
import sys
from typing import Any, BinaryIO

SHA256_BLOCK = 64  # bytes: HMAC pads the key to this
HEADER = struct.Struct("<IIII")


def _hmac_states(key: bytes) -> tuple[Any, Any]:
    """SHA-256 after HMAC's first block, inner and outer (RFC 2104): copying them saves hashing the padded
    key again for every row, which is most of a short row's HMAC."""
    if len(key) > SHA256_BLOCK:
        key = hashlib.sha256(key).digest()
    padded = key.ljust(SHA256_BLOCK, b"\0")
    inner = hashlib.sha256(bytes(byte ^ 0x36 for byte in padded))
    outer = hashlib.sha256(bytes(byte ^ 0x5C for byte in padded))
    return inner, outer


def hash_rows(data: bytes, rows: int, key: bytes, size: int) -> bytes:
    """``SHAKE-256(HMAC-SHA256(key, row))`` read to ``size`` bytes for each of the ``rows`` equal rows of
    ``data``, back to back (the HMAC equals :func:`hmac.digest`'s)."""
    inner, outer = _hmac_states(key)
    new_inner, new_outer, shake = inner.copy, outer.copy, hashlib.shake_256
    width = len(data) // rows if rows else 0
    outputs = []
    for start in range(0, rows * width, width) if width else [0] * rows:
        seed = new_inner()
        seed.update(data[start : start + width])
        mac = new_outer()
        mac.update(seed.digest())
        outputs.append(shake(mac.digest()).digest(size))
    return b"".join(outputs)


def read_exactly(stream: BinaryIO, count: int) -> bytes | None:
    """Exactly ``count`` bytes of ``stream``, or None at its end."""
    chunks, left = [], count
    while left:
        chunk = stream.read(left)
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def serve(requests: BinaryIO, answers: BinaryIO) -> None:
    """Answer requests (module docstring) until ``requests`` ends."""
    while (header := read_exactly(requests, HEADER.size)) is not None:
        key_bytes, size, width, rows = HEADER.unpack(header)
        key, data = read_exactly(requests, key_bytes), read_exactly(requests, width * rows)
        if key is None or data is None:
            return
        answers.write(hash_rows(data, rows, key, size))
        answers.flush()


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)

"""Explicit, reproducible randomness: every stream is derived from the run seed and a purpose name."""

import hashlib

import numpy as np


def stable_int(text: str) -> int:
    """A process-independent 32-bit integer for ``text`` (Python's ``hash`` is salted per process)."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")


def derive_seed(seed: int, *purpose: str) -> int:
    """A 32-bit seed for one purpose, e.g. ``derive_seed(0, "shadow", "0")``."""
    sequence = np.random.SeedSequence([seed, *(stable_int(p) for p in purpose)])
    return int(sequence.generate_state(1)[0])


def derive_rng(seed: int, *purpose: str) -> np.random.Generator:
    """An independent ``numpy.random.Generator`` for one purpose of a run seeded with ``seed``."""
    return np.random.default_rng(derive_seed(seed, *purpose))


def derive_key(seed: int, *purpose: str) -> bytes:
    """A 32-byte key for one purpose of a run (reproducible, so only as secret as the seed)."""
    sequence = np.random.SeedSequence([seed, *(stable_int(p) for p in purpose)])
    return sequence.generate_state(8).astype("<u4").tobytes()

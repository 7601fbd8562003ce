"""Keyed record ids: every artifact names a record only by HMAC-SHA256(key, id), so without the key a record
id in an artifact links to nothing, whoever can list or guess the candidate ids.

The key is the user's secret ``id_salt`` (the same key gives the same ids in every run, so runs can be joined
by whoever holds it) or, without one, 32 random bytes drawn for the run and never written anywhere.

>>> key = RecordKey(b"a secret of the user", "id_salt")
>>> key.hash(np.array(["7"]))[0] == hmac.new(b"a secret of the user", b"7", "sha256").hexdigest()[:16]
True
"""

import hmac
import secrets
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

HASH_HEX_DIGITS = 16  # 64 bits of the HMAC: no collision among a billion records in all likelihood
RANDOM_KEY_BYTES = 32
KeySource = Literal["id_salt", "random"]


@dataclass(frozen=True)
class RecordKey:
    """The secret key of a run's record hashes and where it came from (``id_salt`` or ``random``)."""

    secret: bytes = field(repr=False)
    source: KeySource

    @classmethod
    def random(cls) -> "RecordKey":
        """A fresh key for one run, from the operating system's random source."""
        return cls(secrets.token_bytes(RANDOM_KEY_BYTES), "random")

    def hash(self, ids: np.ndarray) -> np.ndarray:
        """HMAC-SHA256 of each id's text under the key, as its first 16 hex digits."""
        return np.array(
            [hmac.new(self.secret, str(i).encode(), "sha256").hexdigest()[:HASH_HEX_DIGITS] for i in ids]
        )

    def seed(self, purpose: str) -> int:
        """A 64-bit seed only the key gives, for ``purpose``: from HMAC-SHA512, so no record id's hash
        (HMAC-SHA256) reveals it, whatever the ids are."""
        return int.from_bytes(hmac.new(self.secret, purpose.encode(), "sha512").digest()[:8], "big")

    def describe(self) -> dict[str, str]:
        """What the manifest and report say about the ids: the construction and the key's origin
        (``id_salt`` or ``random``), never the key."""
        return {"hash": f"HMAC-SHA256, first {HASH_HEX_DIGITS} hex digits", "key": self.source}

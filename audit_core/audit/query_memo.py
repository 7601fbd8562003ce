"""A model's logits on the label-only attacks' queries, remembered across conditions, attacker knowledges and
tuning trials.

Each condition, each attacker knowledge, each budget of the averaging attacker and each tuning trial runs the
query attacks again, and many of their queries are the same each time: an augmentation attack's perturbations
are drawn from its own seed, and a boundary attack's first two rounds (every direction at ``max_radius``, then
at half of it) do not depend on any answer. Only the defense's answer differs; the model's logits, computed on
the same batch of inputs, are the same bit for bit. So the logits of the batches an attack marks ``fixed``
(:class:`~audit_core.attacks.base.Ask`: queries that depend on no answer) are kept per model (while it
lives) and per batch of inputs (by the SHA-256 of its values, its shape and dtype), the least recently used
dropped beyond a byte budget. A bisection's later rounds, which depend on the answers, are not kept: in the
demo's main process they would take 97 MiB where the fixed batches take 4.
"""

import hashlib
import itertools
import threading
import weakref
from typing import Any

import numpy as np

from audit_core.core.lru import BytesLRU

#: Bytes of logits kept.
MAX_BYTES = 256 * 2**20


def batch_digest(inputs: np.ndarray) -> bytes:
    """SHA-256 of a batch's values: its bytes, or, for a table's rows with text fields (an object array,
    whose bytes are pointers), each field's type and ``repr`` in order."""
    if inputs.dtype != object:
        return hashlib.sha256(np.ascontiguousarray(inputs).view(np.uint8)).digest()
    fields = "\x1f".join(f"{type(value).__name__}:{value!r}" for value in inputs.ravel())
    return hashlib.sha256(fields.encode()).digest()


class QueryMemo:
    """Logits by (model, batch of inputs); a model's entries go when the model does."""

    def __init__(self, max_bytes: int) -> None:
        self.kept = BytesLRU[tuple[int, bytes], np.ndarray](max_bytes)
        self.lock = threading.Lock()
        self.models: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()
        self.tokens = itertools.count()

    def logits(self, model: Any, inputs: np.ndarray) -> np.ndarray:
        """``model.logits(inputs)``, computed once per identical batch while kept."""
        digest = batch_digest(inputs)
        with self.lock:
            token = self.models.get(model)
            if token is None:
                token = self.models[model] = next(self.tokens)
                weakref.finalize(model, self._forget, token)
            key = (token, f"{inputs.shape}{inputs.dtype}".encode() + digest)
            found = self.kept.get(key)
            if found is not None:
                return found
        logits = model.logits(inputs)
        logits.flags.writeable = False  # shared by every later caller
        with self.lock:
            if key not in self.kept:
                self.kept.put(key, logits, logits.nbytes)
        return logits

    def _forget(self, token: int) -> None:
        with self.lock:
            for key in self.kept:
                if key[0] == token:
                    self.kept.discard(key)

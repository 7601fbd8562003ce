"""An on-disk cache of trained models, keyed by everything that determines them.

A key hashes the target fingerprint, the data fingerprint, the training recipe, the model's role and index
and its seed and training set, so a re-run trains nothing it already trained, an interrupted run resumes
where it stopped, and changing any input retrains.

Each entry is a safetensors file (tensors only: loading it runs no code) whose header holds the entry's key
and the SHA-256 of its weights. An entry that cannot be read, belongs to another key, fails its checksum or
does not fit the model is retrained with a :class:`CacheEntryWarning` naming it. Entries are written to a
temporary name and renamed; a failed write (a full disk) removes the temporary file and names the folder.
"""

import contextlib
import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors
from torch import nn

from audit_core.core.errors import ConfigError, brief

SUFFIX = ".safetensors"
#: Characters of a loader's error quoted in the warning (a refusal names the file and the types it holds).
BRIEF_REASON = 400
KEY_FIELD, CHECKSUM_FIELD = "dynaudit.key", "dynaudit.sha256"


class CacheEntryWarning(UserWarning):
    """A cached model was unusable (corrupt, truncated, foreign or altered) and is retrained."""


def cache_key(parts: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of ``parts``."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def weights_checksum(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 over every tensor's name, dtype, shape and bytes, in name order."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        tensor = tensors[name].detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _read_entry(path: Path, key: str) -> dict[str, torch.Tensor] | str:
    """The entry's tensors, or why they cannot be used."""
    try:
        data = path.read_bytes()
        tensors = load_tensors(data)
        header_size = int.from_bytes(data[:8], "little")
        metadata = json.loads(data[8 : 8 + header_size]).get("__metadata__") or {}
    except (OSError, SafetensorError, ValueError) as error:
        return f"cannot be read ({type(error).__name__}: {error})"
    if metadata.get(KEY_FIELD) != key:
        return "belongs to another model (its key differs from its file name)"
    if metadata.get(CHECKSUM_FIELD) != weights_checksum(tensors):
        return "holds weights that do not match their checksum"
    return tensors


def _checksum_path(path: Path) -> Path:
    return path.with_name(f"{path.name}.sha256")


def _commit(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary name beside ``path`` and rename it into place; a failed write (a full
    disk) removes the temporary file and names the folder."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with partial.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, path)
    except OSError as error:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
        raise ConfigError(
            f"cache_dir: a trained model cannot be written to the model cache folder '{path.parent}' "
            f"({error.strerror or error}); free space there, choose another cache_dir, or set cache_dir: "
            "null to train without a cache."
        ) from None


class ModelCache:
    """Stores state dicts under ``root``; counts how many models were trained and how many reused."""

    def __init__(self, root: Path | None) -> None:
        self.root = root
        self.trained = 0
        self.reused = 0

    def _path(self, key: str) -> Path | None:
        return None if self.root is None else self.root / f"{key}{SUFFIX}"

    def load(self, key: str, blank: Callable[[], nn.Module]) -> nn.Module | None:
        """The cached model for ``key`` loaded into ``blank()``, or ``None`` when there is none or it is
        unusable (then with a :class:`CacheEntryWarning`)."""
        path = self._path(key)
        if path is None or not path.is_file():
            return None
        entry = _read_entry(path, key)
        model = blank()
        if not isinstance(entry, str):
            try:
                model.load_state_dict(entry)
            except RuntimeError as error:
                entry = f"does not fit the model ({str(error).splitlines()[0]})"
        if isinstance(entry, str):
            warnings.warn(
                f"Model cache entry '{path}' {entry}; retraining it.", CacheEntryWarning, stacklevel=2
            )
            return None
        self.reused += 1
        return model.eval()

    def store(self, key: str, model: nn.Module) -> None:
        """Count a freshly trained model and cache it (write to a temporary name, then rename)."""
        self.trained += 1
        path = self._path(key)
        if path is None:
            return
        tensors = {name: value.detach().cpu().contiguous() for name, value in model.state_dict().items()}
        _commit(path, save_tensors(tensors, {KEY_FIELD: key, CHECKSUM_FIELD: weights_checksum(tensors)}))

    def load_file(self, key: str, suffix: str, read: Callable[[Path], Any]) -> Any | None:
        """``read(path)`` of the entry ``key`` stored as a ``suffix`` file (a model that is not a torch
        module), or ``None`` when there is none or it is unusable (then with a :class:`CacheEntryWarning`):
        its bytes must match the key and SHA-256 recorded beside it, and ``read`` must succeed."""
        path = None if self.root is None else self.root / f"{key}{suffix}"
        if path is None or not path.is_file():
            return None
        try:
            data = path.read_bytes()
            recorded = _checksum_path(path).read_text(encoding="utf-8").split()
        except OSError as error:
            problem = f"cannot be read ({type(error).__name__}: {error})"
        else:
            matches = recorded == [key, hashlib.sha256(data).hexdigest()]
            problem = None if matches else "does not match the key and checksum recorded beside it"
        if problem is None:
            try:
                model = read(path)
            except Exception as error:  # each model format fails in its own way on a damaged file
                problem = f"cannot be loaded ({type(error).__name__}: {brief(error, BRIEF_REASON)})"
        if problem is not None:
            warnings.warn(
                f"Model cache entry '{path}' {problem}; retraining it.", CacheEntryWarning, stacklevel=2
            )
            return None
        self.reused += 1
        return model

    def store_file(self, key: str, suffix: str, write: Callable[[Path], None] | None) -> None:
        """Count a freshly trained model and cache it with ``write(path)``, its key and SHA-256 recorded
        beside it; ``write=None``: a model that cannot be cached, only counted."""
        self.trained += 1
        if self.root is None or write is None:
            return
        path = self.root / f"{key}{suffix}"
        with tempfile.TemporaryDirectory() as scratch:
            staged = Path(scratch) / path.name
            write(staged)
            data = staged.read_bytes()
        _commit(path, data)
        _commit(_checksum_path(path), f"{key} {hashlib.sha256(data).hexdigest()}\n".encode())

    def counts(self) -> dict[str, int]:
        """``{"trained": ..., "reused": ...}`` so far."""
        return {"trained": self.trained, "reused": self.reused}

    def summary(self) -> str:
        """E.g. ``"trained 3, reused 13 from .dynaudit-cache/models"``."""
        where = f" from {self.root}" if self.root else " (cache disabled)"
        return f"trained {self.trained}, reused {self.reused}{where}"

"""An on-disk cache of trained models, keyed by everything that determines them.

A key hashes the target fingerprint, the data fingerprint, the training recipe, the model's role and index
and its seed and training set, so a re-run trains nothing it already trained, an interrupted run resumes
where it stopped, and changing any input retrains. Files are written to a temporary name and renamed, so an
interrupted write never leaves a corrupt entry.
"""

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn


def cache_key(parts: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of ``parts``."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


class ModelCache:
    """Stores state dicts under ``root``; counts how many models were trained and how many reused."""

    def __init__(self, root: Path | None) -> None:
        self.root = root
        self.trained = 0
        self.reused = 0

    def _path(self, key: str) -> Path | None:
        return None if self.root is None else self.root / f"{key}.pt"

    def load(self, key: str, blank: Callable[[], nn.Module]) -> nn.Module | None:
        """The cached model for ``key`` loaded into ``blank()``, or ``None`` when there is none."""
        path = self._path(key)
        if path is None or not path.is_file():
            return None
        model = blank()
        model.load_state_dict(torch.load(path, weights_only=True))
        self.reused += 1
        return model.eval()

    def store(self, key: str, model: nn.Module) -> None:
        """Count a freshly trained model and cache it (write to a temporary name, then rename)."""
        self.trained += 1
        path = self._path(key)
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.partial")
        torch.save(model.state_dict(), partial)
        os.replace(partial, path)

    def load_file(self, key: str, suffix: str, read: Callable[[Path], Any]) -> Any | None:
        """``read(path)`` of the entry ``key`` stored as a ``suffix`` file (a model that is not a torch
        module), or ``None`` when there is none."""
        path = None if self.root is None else self.root / f"{key}{suffix}"
        if path is None or not path.is_file():
            return None
        model = read(path)
        self.reused += 1
        return model

    def store_file(self, key: str, suffix: str, write: Callable[[Path], None] | None) -> None:
        """Count a freshly trained model and cache it with ``write(path)`` (to a temporary name, then
        renamed); ``write=None``: a model that cannot be cached, only counted."""
        self.trained += 1
        if self.root is None or write is None:
            return
        path = self.root / f"{key}{suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.partial")
        write(partial)
        os.replace(partial, path)

    def counts(self) -> dict[str, int]:
        """``{"trained": ..., "reused": ...}`` so far."""
        return {"trained": self.trained, "reused": self.reused}

    def summary(self) -> str:
        """E.g. ``"trained 3, reused 13 from .dynaudit-cache/models"``."""
        where = f" from {self.root}" if self.root else " (cache disabled)"
        return f"trained {self.trained}, reused {self.reused}{where}"

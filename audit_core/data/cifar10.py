"""CIFAR-10 in its standard on-disk python format (``cifar-10-batches-py``), read from a local folder.

The batches are pickles. They are read with a restricted unpickler that builds only dicts, lists, strings,
bytes, numbers and numpy arrays of them, and refuses every other global, so a tampered batch cannot run
code; no ``trust_pickle`` consent is needed for them.
"""

import codecs
import pickle
from functools import partial
from pathlib import Path

import numpy as np
import torch

from audit_core.config import Cifar10DataConfig
from audit_core.core.errors import DataError, brief
from audit_core.core.paths import existing_file, existing_folder
from audit_core.data.base import PARTS, AuditData
from audit_core.data.images import ImageTransform, build_transform, transform_batch
from audit_core.data.pools import draw_parts
from audit_core.data.probe import ListedData, ListedPart

POOL_FILES = {
    "train": [f"data_batch_{i}" for i in range(1, 6)],
    "test": ["test_batch"],
}
FOLDER = "cifar-10-batches-py"
N_CLASSES = 10
_RECONSTRUCT = np.zeros(0).__reduce__()[0]  # numpy's array-rebuilding function, whatever module holds it
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): codecs.encode,
}


class _BatchUnpickler(pickle.Unpickler):
    """Builds plain containers and numpy arrays only; any other global is refused."""

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a CIFAR-10 batch")
        return _ALLOWED[(module, name)]


def read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images ``(n, 3, 32, 32)`` uint8 and labels ``(n,)`` of one CIFAR-10 python batch file."""
    field = "data.root"
    try:
        with path.open("rb") as handle:
            batch = _BatchUnpickler(handle, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as error:
        raise DataError(
            f"{field}: '{path}' is not a CIFAR-10 python batch ({brief(error)}); expected the "
            "file from cifar-10-python.tar.gz."
        ) from None
    data = batch.get(b"data") if isinstance(batch, dict) else None
    labels = batch.get(b"labels") if isinstance(batch, dict) else None
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise DataError(
            f"{field}: '{path}' has no uint8 'data' array of shape (n, 3072); expected a CIFAR-10 batch."
        )
    if not isinstance(labels, list) or len(labels) != len(data):
        raise DataError(
            f"{field}: '{path}' has no 'labels' list with one label per image; expected a CIFAR-10 batch."
        )
    return data.reshape(-1, 3, 32, 32), np.asarray(labels, dtype=np.int64)


def _batch_folder(root: Path) -> Path:
    existing_folder(root, "data.root", f"the CIFAR-10 python folder ({FOLDER})")
    return root / FOLDER if (root / FOLDER).is_dir() else root


def _transformed(
    images: np.ndarray, index: np.ndarray, transform: ImageTransform, rows: np.ndarray | None
) -> np.ndarray:
    pixels = torch.from_numpy(images[index if rows is None else index[rows]]).float() / 255.0
    return transform_batch(pixels, transform, "data.transform")


def list_cifar10_data(config: Cifar10DataConfig) -> ListedData:
    """Read the local batches and draw the audit parts from the ``train`` and ``test`` pools; the drawn
    images are transformed on demand.

    Record ids are ``cifar10:<pool>:<index>`` with the index in the pool's batch order.
    """
    folder = _batch_folder(config.root)
    pools = {}
    for pool, names in POOL_FILES.items():
        files = [existing_file(folder / name, "data.root", f"CIFAR-10 batch {name!r}") for name in names]
        images, labels = zip(*(read_batch(f) for f in files), strict=True)
        pools[pool] = (np.concatenate(images), np.concatenate(labels))
    drawn = draw_parts(
        {part: getattr(config, part) for part in PARTS},
        {pool: len(labels) for pool, (_, labels) in pools.items()},
        config.split_seed,
    )
    transform = build_transform(config.transform)
    parts = {}
    for part, (pool, index) in drawn.items():
        images, labels = pools[pool]
        ids = np.array([f"cifar10:{pool}:{i}" for i in index])
        parts[part] = ListedPart(labels[index], ids, partial(_transformed, images, index, transform))
    return ListedData(
        "cifar10", parts, N_CLASSES, {part: f"{folder} ({pool})" for part, (pool, _) in drawn.items()}
    )


def load_cifar10_data(config: Cifar10DataConfig) -> AuditData:
    """The drawn images of every part, transformed (see :func:`list_cifar10_data`)."""
    return list_cifar10_data(config).load()

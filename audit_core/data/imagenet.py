"""ImageNet-style class folders: ``root/train/<wnid>/`` and ``root/val/<wnid>/`` (pools ``train``, ``val``),
or ``root/<wnid>/`` directly (one pool ``all``, like the DynaNoise paper's ImageNet-10 folder)."""

from functools import partial
from pathlib import Path

import numpy as np

from audit_core.config import ImageNetDataConfig
from audit_core.core.errors import DataError
from audit_core.core.paths import existing_folder
from audit_core.data.base import PARTS, AuditData
from audit_core.data.images import build_transform, class_folders, decode_rows, image_files
from audit_core.data.pools import draw_parts
from audit_core.data.probe import ListedData, ListedPart

SPLIT_FOLDERS = ("train", "val")


def pool_folders(root: Path) -> dict[str, Path]:
    """The pools under ``root``: its ``train``/``val`` folders if present, else ``root`` itself as ``all``."""
    existing_folder(root, "data.root", "an ImageNet-style folder (train/ and val/, or one folder per class)")
    split = {name: root / name for name in SPLIT_FOLDERS if (root / name).is_dir()}
    return split or {"all": root}


def list_imagenet_data(config: ImageNetDataConfig) -> ListedData:
    """List every pool's images and draw the audit parts; the drawn images are decoded on demand.

    Classes are ``data.classes`` in that order, or the first pool's class folders sorted by name. Record ids
    are ``<pool>/<class>/<file>``.
    """
    pools = pool_folders(config.root)
    classes = config.classes or class_folders(next(iter(pools.values())))
    if len(classes) < 2:
        raise DataError(
            f"data.root: '{config.root}' has {len(classes)} class folders; expected at least two classes."
        )
    files = {pool: image_files(folder, classes, f"data.root ({pool})") for pool, folder in pools.items()}
    drawn = draw_parts(
        {part: getattr(config, part) for part in PARTS},
        {pool: len(listed) for pool, listed in files.items()},
        config.split_seed,
    )
    transform = build_transform(config.transform)
    parts = {}
    for part, (pool, index) in drawn.items():
        chosen = [files[pool][i] for i in index]
        ids = np.array([f"{pool}/{Path(file).relative_to(pools[pool]).as_posix()}" for file, _ in chosen])
        labels = np.array([label for _, label in chosen], dtype=np.int64)
        paths = [file for file, _ in chosen]
        parts[part] = ListedPart(labels, ids, partial(decode_rows, paths, transform, f"data.{part}"))
    return ListedData(
        "imagenet", parts, len(classes), {part: f"{pools[pool]}" for part, (pool, _) in drawn.items()}
    )


def load_imagenet_data(config: ImageNetDataConfig) -> AuditData:
    """The drawn images of every part, decoded (see :func:`list_imagenet_data`)."""
    return list_imagenet_data(config).load()

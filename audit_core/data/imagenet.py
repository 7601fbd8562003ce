"""ImageNet-style class folders: ``root/train/<wnid>/`` and ``root/val/<wnid>/`` (pools ``train``, ``val``),
or ``root/<wnid>/`` directly (one pool ``all``, like the DynaNoise paper's ImageNet-10 folder)."""

from pathlib import Path

import numpy as np

from audit_core.config import ImageNetDataConfig
from audit_core.core.errors import DataError
from audit_core.core.paths import existing_folder
from audit_core.data.base import PARTS, AuditData, Split
from audit_core.data.images import build_transform, class_folders, decode_images, image_files
from audit_core.data.pools import draw_parts

SPLIT_FOLDERS = ("train", "val")


def pool_folders(root: Path) -> dict[str, Path]:
    """The pools under ``root``: its ``train``/``val`` folders if present, else ``root`` itself as ``all``."""
    existing_folder(root, "data.root", "an ImageNet-style folder (train/ and val/, or one folder per class)")
    split = {name: root / name for name in SPLIT_FOLDERS if (root / name).is_dir()}
    return split or {"all": root}


def load_imagenet_data(config: ImageNetDataConfig) -> AuditData:
    """List every pool's images, draw the audit parts, then decode only the drawn images.

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
        features = decode_images([file for file, _ in chosen], transform, f"data.{part}")
        ids = np.array([f"{pool}/{Path(file).relative_to(pools[pool]).as_posix()}" for file, _ in chosen])
        parts[part] = Split(features, np.array([label for _, label in chosen], dtype=np.int64), ids)
    return AuditData.from_parts(
        "imagenet",
        parts,
        n_classes=len(classes),
        sources={part: f"{pools[pool]}" for part, (pool, _) in drawn.items()},
    )

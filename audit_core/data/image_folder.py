"""torchvision ImageFolder layout, one folder per audit part: ``<part>/<class name>/<image file>``."""

import os
from functools import partial
from pathlib import Path

import numpy as np

from audit_core.config import ImageFolderDataConfig
from audit_core.core.errors import DataError
from audit_core.core.paths import existing_folder
from audit_core.data.base import PARTS, AuditData
from audit_core.data.images import build_transform, check_classes, class_folders, decode_rows, image_files
from audit_core.data.probe import ListedData, ListedPart

EXPECTED = "an ImageFolder-style folder with one subfolder per class"


def _classes(folders: dict[str, Path], listed: list[str] | None) -> list[str]:
    """``listed`` (``data.classes``), or the members folder's class folders, sorted; every part must have
    each, and without ``listed`` no other."""
    classes = listed or class_folders(folders["members"])
    if len(classes) < 2:
        raise DataError(
            f"data.members: folder '{folders['members']}' has {len(classes)} class folders; expected one "
            "subfolder per class, at least two."
        )
    reference = "data.classes" if listed else "the members folder"
    for part, folder in folders.items():
        check_classes(folder, classes, f"data.{part}", reference)
        extra = sorted(set(class_folders(folder)) - set(classes))
        if extra and not listed:
            raise DataError(
                f"data.{part}: folder '{folder}' has class folder {extra[0]!r}, which the members folder "
                "lacks; expected the same class folders everywhere (or list those to audit in data.classes)."
            )
    return classes


def list_image_folder_data(config: ImageFolderDataConfig) -> ListedData:
    """Classes are ``data.classes`` in that order, or the members folder's subfolders sorted by name; every
    part must have them.

    Record ids are the image paths relative to the folder that holds all four parts, so the same file listed
    in two parts is caught as an overlap.
    """
    folders = {part: existing_folder(getattr(config, part), f"data.{part}", EXPECTED) for part in PARTS}
    classes = _classes(folders, config.classes)
    common = Path(os.path.commonpath([f.resolve() for f in folders.values()]))
    transform = build_transform(config.transform)
    parts = {}
    for part, folder in folders.items():
        files = image_files(folder, classes, f"data.{part}")
        ids = np.array([Path(file).resolve().relative_to(common).as_posix() for file, _ in files])
        labels = np.array([label for _, label in files], dtype=np.int64)
        paths = [file for file, _ in files]
        parts[part] = ListedPart(labels, ids, partial(decode_rows, paths, transform, f"data.{part}"))
    return ListedData(
        "image_folder", parts, config.n_classes, {part: str(folder) for part, folder in folders.items()}
    )


def load_image_folder_data(config: ImageFolderDataConfig) -> AuditData:
    """Every image of every part, decoded (see :func:`list_image_folder_data`)."""
    return list_image_folder_data(config).load()

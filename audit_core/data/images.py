"""Images as model inputs: class folders, decoding, and the configured transform (shared by image loaders)."""

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from audit_core.config import ImageTransformConfig
from audit_core.core.errors import DataError, brief

ImageTransform = Callable[[torch.Tensor], torch.Tensor]


def build_transform(config: ImageTransformConfig) -> ImageTransform:
    """Float images ``(..., C, H, W)`` in [0, 1] -> model inputs: resize, crop, grayscale, normalise."""
    from torchvision.transforms import v2  # here and below: torchvision costs seconds that tables skip

    steps: list[Callable] = []
    if config.resize:
        steps.append(v2.Resize(config.resize, antialias=True))
    if config.center_crop:
        steps.append(v2.CenterCrop(config.center_crop))
    if config.grayscale:
        steps.append(v2.Grayscale(num_output_channels=1))
    if config.mean:
        steps.append(v2.Normalize(mean=config.mean, std=config.std))
    return v2.Compose(steps) if steps else torch.nn.Identity()


def transform_batch(images: torch.Tensor, transform: ImageTransform, field: str) -> np.ndarray:
    """Apply ``transform`` to a batch ``(n, C, H, W)``; errors (e.g. a wrong-length mean) name ``field``."""
    try:
        return transform(images).numpy().astype(np.float32, copy=False)
    except (RuntimeError, ValueError) as error:
        raise DataError(
            f"{field}: the image transform does not fit images of shape {tuple(images.shape[1:])} "
            f"({brief(error)}); expected one mean/std value per channel."
        ) from None


def class_folders(folder: Path) -> list[str]:
    """Sorted names of the subfolders of ``folder`` (one per class in the ImageFolder layout)."""
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def check_classes(folder: Path, classes: Sequence[str], field: str, reference: str) -> None:
    """Raise unless ``folder`` has a subfolder for each of ``classes`` (named by ``reference``)."""
    present = set(class_folders(folder))
    missing = [c for c in classes if c not in present]
    if missing:
        raise DataError(
            f"{field}: folder '{folder}' has no class folder {missing[0]!r}, which {reference} has; "
            "expected the same class folders everywhere."
        )


def image_files(folder: Path, classes: Sequence[str], field: str) -> list[tuple[str, int]]:
    """``(file, class index)`` of every image in ``folder/<class>/``, indexed by position in ``classes``."""
    from torchvision.datasets.folder import IMG_EXTENSIONS, make_dataset

    check_classes(folder, classes, field, "the class list")
    try:
        return make_dataset(folder, {c: i for i, c in enumerate(classes)}, extensions=IMG_EXTENSIONS)
    except FileNotFoundError:
        empty = [
            c for c in classes if not any(f.suffix.lower() in IMG_EXTENSIONS for f in (folder / c).rglob("*"))
        ]
        raise DataError(
            f"{field}: class folder '{folder / empty[0]}' has no image files; expected at least one "
            f"({', '.join(IMG_EXTENSIONS)})."
        ) from None


def decode_images(files: Sequence[str], transform: ImageTransform, field: str) -> np.ndarray:
    """Decode image files as RGB, transform each, and stack them into ``(n, C, H, W)`` float32."""
    from torchvision.transforms import v2

    arrays = []
    for file in files:
        try:
            with Image.open(file) as image:
                pixels = v2.functional.pil_to_tensor(image.convert("RGB"))
        except (UnidentifiedImageError, OSError):
            raise DataError(f"{field}: '{file}' is not a readable image; expected an image file.") from None
        arrays.append(transform_batch(pixels[None].float() / 255.0, transform, field)[0])
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise DataError(
            f"{field}: images have different shapes after the transform ({sorted(shapes)[0]} and "
            f"{sorted(shapes)[1]}); set data.transform.resize and center_crop to give them one shape."
        )
    return np.stack(arrays)


def decode_rows(
    files: Sequence[str], transform: ImageTransform, field: str, rows: np.ndarray | None
) -> np.ndarray:
    """:func:`decode_images` on the ``files`` at ``rows`` (``None``: on all of them)."""
    return decode_images(files if rows is None else [files[i] for i in rows], transform, field)

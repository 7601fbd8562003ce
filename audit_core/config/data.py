"""The ``data:`` section: the four audit parts, by kind."""

from pathlib import Path
from typing import Literal

from pydantic import (
    Field,
    PrivateAttr,
    model_validator,
)

from audit_core.config.base import StrictModel, kinds

#: The fewest members, non-members and test records an audit takes: with fewer, the 95% interval of an AUC
#: spans more than ±0.26 even for a model that leaks nothing (audit_core.data.base.too_few_records says so).
MIN_PART_RECORDS = 10


class DemoDataConfig(StrictModel):
    """A data set shipped with scikit-learn, split at random into the four audit parts."""

    kind: Literal["demo"] = "demo"
    dataset: Literal["digits", "breast_cancer", "wine", "synthetic"] = Field(
        "digits",
        description="scikit-learn data set: digits (8x8 images), a tabular one, or synthetic (a fixed "
        "make_classification set, 6000 x 20, 10 classes).",
    )
    n_members: int = Field(150, ge=MIN_PART_RECORDS, description="Records that train the target.")
    n_non_members: int = Field(
        150, ge=MIN_PART_RECORDS, description="Held-out records of the same distribution."
    )
    n_population: int = Field(600, ge=4, description="Records for the attacker's shadow models.")
    split_seed: int = Field(0, ge=0, description="Seed of the random split.")


def _refuse_repeats(classes: list[str]) -> None:
    """Refuse a class listed twice in ``classes``, in one sentence."""
    repeated = next((name for i, name in enumerate(classes) if name in classes[:i]), None)
    if repeated is not None:
        raise ValueError(f"classes must be distinct; {repeated!r} appears more than once")


class _PartFiles(StrictModel):
    """One file (or folder) per audit part."""

    members: Path = Field(description="Records that trained the target.")
    non_members: Path = Field(description="Records of the same distribution the target never saw.")
    population: Path = Field(
        description="Further records of the members' distribution, neither members nor non-members, that the "
        "attacker trains reference and shadow models on (hold some of your non-members out for them)."
    )
    test: Path = Field(description="Records that measure the model's accuracy under each defense.")
    n_classes: int | None = Field(None, ge=2, description="Number of classes; default: largest label + 1.")


_GIVEN_CLASSES = "data.classes"  # where classes come from unless read from the model


class _LabelledFiles(_PartFiles):
    """Part files that hold each record's label: a class index, or a class name listed in ``classes``."""

    classes: list[str | int] | None = Field(
        None,
        min_length=2,
        description="Class names in the order of the model's outputs (a scikit-learn model's classes_): "
        "labels given as these names are read as their positions; default: a scikit-learn model's classes_ "
        "where they are not 0..k-1, else labels are indices 0..k-1.",
    )
    _classes_from: str = PrivateAttr(_GIVEN_CLASSES)

    def with_model_classes(self, classes: list[str | int], model: str) -> "_LabelledFiles":
        """This section with ``classes``, the ``classes_`` of ``model`` (as sentences name it)."""
        section = self.model_copy(update={"classes": classes})
        section._classes_from = f"the classes_ of {model}"
        return section

    @property
    def classes_named_by(self) -> str:
        """Where ``classes`` came from, in a sentence's words: data.classes, or the model's classes_."""
        return self._classes_from

    @property
    def classes_read_from_model(self) -> bool:
        """Whether ``classes`` were read from the model (:meth:`with_model_classes`), not given."""
        return self._classes_from != _GIVEN_CLASSES

    @model_validator(mode="after")
    def _classes_distinct_and_counted(self) -> "_LabelledFiles":
        names = [str(name) for name in self.classes or []]
        _refuse_repeats(names)
        if names and self.n_classes is not None and self.n_classes != len(names):
            raise ValueError(
                f"n_classes ({self.n_classes}) differs from the {len(names)} names in classes; give one of "
                "them"
            )
        return self


class TableDataConfig(_LabelledFiles):
    """Parquet (.parquet) or CSV (.csv) tables: one row per record."""

    kind: Literal["table"] = "table"
    label: str = Field("label", description="Column with the class label: an index, or a name in classes.")
    id: str | None = Field(None, description="Column with a unique record id; default: file and row number.")
    features: list[str] | None = Field(
        None,
        min_length=1,
        description="Feature columns in model input order; default: the columns a scikit-learn target was "
        "fitted on (its feature_names_in_), in its order, else all other columns.",
    )
    _features_from: str | None = PrivateAttr(None)

    def with_model_columns(self, columns: list[str], model: str) -> "TableDataConfig":
        """This section with ``features``, the columns ``model`` was fitted on (as sentences name it)."""
        section = self.model_copy(update={"features": columns})
        section._features_from = f"the {len(columns)} columns {model} was fitted on"
        return section

    @property
    def features_named_by(self) -> str | None:
        """Where ``features`` came from where the model named them (:meth:`with_model_columns`), else None."""
        return self._features_from


class NpzDataConfig(_LabelledFiles):
    """NumPy ``.npz`` archives (no pickled objects): one per part, with named arrays."""

    kind: Literal["npz"] = "npz"
    features_key: str = Field("x", description="Array of records, shape (n, ...).")
    labels_key: str = Field("y", description="Array of labels, shape (n,): indices, or names in classes.")
    ids_key: str | None = Field(None, description="Optional array of unique record ids, shape (n,).")


class ImageTransformConfig(StrictModel):
    """How images become model inputs: resize, crop, channels, then per-channel normalisation."""

    resize: int | None = Field(None, ge=1, description="Resize the shorter side to this many pixels.")
    center_crop: int | None = Field(None, ge=1, description="Crop a centred square of this size.")
    grayscale: bool = Field(False, description="Convert to one channel.")
    mean: list[float] | None = Field(None, min_length=1, description="Per-channel mean to subtract.")
    std: list[float] | None = Field(None, min_length=1, description="Per-channel standard deviation.")

    @model_validator(mode="after")
    def _mean_and_std_together(self) -> "ImageTransformConfig":
        if (self.mean is None) != (self.std is None) or (self.mean and len(self.mean) != len(self.std)):
            raise ValueError("mean and std must be given together, with one value per channel each")
        if self.std and min(self.std) <= 0:
            raise ValueError("std values must be positive")
        return self


CIFAR10_TRANSFORM = ImageTransformConfig(mean=[0.4914, 0.4822, 0.4465], std=[0.2470, 0.2435, 0.2616])
IMAGENET_TRANSFORM = ImageTransformConfig(
    resize=256, center_crop=224, mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]
)


class ImageFolderDataConfig(_PartFiles):
    """torchvision ImageFolder layout per part: ``<part folder>/<class name>/<image file>``."""

    kind: Literal["image_folder"] = "image_folder"
    classes: list[str] | None = Field(
        None,
        min_length=2,
        description="Class folders in the order of the model's outputs (others are left out); default: the "
        "members folder's subfolders, sorted by name.",
    )
    transform: ImageTransformConfig = Field(default_factory=ImageTransformConfig)

    @model_validator(mode="after")
    def _classes_distinct(self) -> "ImageFolderDataConfig":
        _refuse_repeats(self.classes or [])
        return self


class PoolDraw(StrictModel):
    """Records drawn at random, without replacement, from one pool of a standard data set."""

    pool: str = Field(description="The pool's name, e.g. train or test (CIFAR-10), train or val (ImageNet).")
    count: int | None = Field(None, ge=1, description="How many records; default: all that remain.")


class _PooledParts(StrictModel):
    """Audit parts drawn from a data set's own partition (train/test); parts draw in the order listed."""

    root: Path = Field(description="Local folder with the data set (nothing is downloaded).")
    members: PoolDraw = Field(description="Records the target trained on (a sample of them is enough).")
    non_members: PoolDraw = Field(description="Records the target never saw.")
    population: PoolDraw = Field(
        description="The attacker's records for reference and shadow models, neither members nor non-members."
    )
    test: PoolDraw = Field(description="Records that measure accuracy.")
    split_seed: int = Field(0, ge=0, description="Seed of the random draws.")


class Cifar10DataConfig(_PooledParts):
    """CIFAR-10's python batches (``data_batch_1..5``, ``test_batch``); pools ``train`` and ``test``."""

    kind: Literal["cifar10"] = "cifar10"
    transform: ImageTransformConfig = Field(default_factory=lambda: CIFAR10_TRANSFORM)


class ImageNetDataConfig(_PooledParts):
    """ImageNet-style class folders: ``root/train`` and ``root/val`` (pools ``train``, ``val``), or class
    folders directly under ``root`` (one pool ``all``, like the paper's ImageNet-10)."""

    kind: Literal["imagenet"] = "imagenet"
    classes: list[str] | None = Field(
        None, min_length=2, description="Class folders to use (e.g. ten wnids); default: all of them."
    )
    transform: ImageTransformConfig = Field(default_factory=lambda: IMAGENET_TRANSFORM)


DataConfig = kinds(
    "demo",
    DemoDataConfig,
    TableDataConfig,
    NpzDataConfig,
    ImageFolderDataConfig,
    Cifar10DataConfig,
    ImageNetDataConfig,
)

"""The registries from ``data.kind`` to the loader that turns that config into AuditData, and to the lister
of the kinds whose records can be listed without decoding them (for a cheap probe)."""

from collections.abc import Callable
from typing import Any

from audit_core.config import DataConfig, DemoDataConfig
from audit_core.data.base import AuditData
from audit_core.data.cifar10 import list_cifar10_data, load_cifar10_data
from audit_core.data.demo import load_demo_data
from audit_core.data.image_folder import list_image_folder_data, load_image_folder_data
from audit_core.data.imagenet import list_imagenet_data, load_imagenet_data
from audit_core.data.npz import load_npz_data
from audit_core.data.probe import DataProbe, ListedData, probe_loaded
from audit_core.data.table import load_table_data


def _demo(config: DemoDataConfig) -> AuditData:
    return load_demo_data(
        config.dataset,
        n_members=config.n_members,
        n_non_members=config.n_non_members,
        n_population=config.n_population,
        split_seed=config.split_seed,
    )


LOADERS: dict[str, Callable[[Any], AuditData]] = {
    "demo": _demo,
    "table": load_table_data,
    "npz": load_npz_data,
    "image_folder": load_image_folder_data,
    "cifar10": load_cifar10_data,
    "imagenet": load_imagenet_data,
}


def load_data(config: DataConfig) -> AuditData:
    """The AuditData described by one ``data`` config (any kind in :data:`LOADERS`)."""
    return LOADERS[config.kind](config)


# data.kind -> its records listed, features decoded on demand; other kinds are cheap to read whole
LISTERS: dict[str, Callable[[Any], ListedData]] = {
    "image_folder": list_image_folder_data,
    "cifar10": list_cifar10_data,
    "imagenet": list_imagenet_data,
}


def probe_data(config: DataConfig, rows: int) -> DataProbe:
    """Every check of :func:`load_data` that does not need every record decoded, with the first ``rows``
    records of each part decoded: a listed kind decodes only those, any other is read whole."""
    lister = LISTERS.get(config.kind)
    return lister(config).probe(rows) if lister else probe_loaded(load_data(config), rows)

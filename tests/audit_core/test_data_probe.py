"""The data probe of the input check: every data kind's records listed and checked like the full load, and
only the probed records decoded."""

from pathlib import Path

import numpy as np
import pytest

from audit_core.audit.inputs import PROBE_ROWS, check_inputs
from audit_core.config import parse_config
from audit_core.core.errors import DataError
from audit_core.data import PARTS, load_data, probe_data
from audit_core.data.probe import spread_rows
from tests.audit_core.byo import (
    class_images,
    config,
    write_cifar_batches,
    write_image_folder,
    write_npz,
    write_tables,
)

CLASSES = ["a", "b", "c"]
GARBAGE = b"\x89PNG\r\n\x1a\n not an image"


def _image_folders(root: Path, n: int = 40) -> dict:
    """``n`` images per part, ``2 n`` in the population (enough for a shadow split)."""
    parts = {
        part: str(
            write_image_folder(root / part, *class_images(n * (1 + (part == "population")), seed), CLASSES)
        )
        for seed, part in enumerate(PARTS)
    }
    return {"kind": "image_folder", **parts}


def _imagenet(root: Path) -> dict:
    for seed, (pool, n) in enumerate({"train": 90, "val": 30}.items()):
        images, labels = class_images(n, seed + 10, size=12)
        write_image_folder(root / pool, images, labels, ["n01", "n02", "n03"])
    draws = {p: {"pool": "train", "count": 30} for p in ("members", "non_members", "population")}
    return {
        "kind": "imagenet",
        "root": str(root),
        "transform": {"resize": 8},
        "test": {"pool": "val"},
        **draws,
    }


def _cifar10(root: Path) -> dict:
    write_cifar_batches(root / "cifar-10-batches-py", n_per_batch=20)
    draws = {p: {"pool": "train", "count": 20} for p in ("members", "non_members")}
    return {
        "kind": "cifar10",
        "root": str(root),
        "population": {"pool": "train"},
        "test": {"pool": "test"},
        **draws,
    }


DATA = {
    "demo": lambda root: {
        "kind": "demo",
        "dataset": "wine",
        "n_members": 40,
        "n_non_members": 40,
        "n_population": 60,
    },
    "table": lambda root: {"kind": "table", "id": "id", **write_tables(root, ".parquet")},
    "npz": lambda root: {"kind": "npz", "ids_key": "ids", **write_npz(root)},
    "image_folder": _image_folders,
    "cifar10": _cifar10,
    "imagenet": _imagenet,
}


def _data_config(data: dict):
    return parse_config({"data": data}).data


@pytest.mark.parametrize("kind", DATA)
def test_the_probe_sees_every_record_of_the_full_load_and_decodes_records_spread_over_each_part(
    kind, tmp_path
):
    config = _data_config(DATA[kind](tmp_path))
    full = load_data(config)
    probe = probe_data(config, rows=5)
    assert probe.sizes == {part: len(split) for part, split in full.splits().items()}
    assert probe.records.n_classes == full.n_classes and probe.records.sources == full.sources
    assert probe.sample.population.numeric == full.population.numeric
    for part, split in full.splits().items():
        records, sample = getattr(probe.records, part), getattr(probe.sample, part)
        np.testing.assert_array_equal(records.ids, split.ids)
        np.testing.assert_array_equal(records.labels, split.labels)
        spread = np.linspace(0, len(split) - 1, 5).round().astype(int)  # first, last and between
        np.testing.assert_array_equal(sample.ids, split.ids[spread])
        np.testing.assert_array_equal(sample.features, split.features[spread])


def _probed(folder: str, rows: int) -> list[Path]:
    """The image files of an ImageFolder part that a probe of ``rows`` decodes: in listing order (class by
    class, files by name), evenly spread over the part."""
    files = sorted(Path(folder).glob("*/*.png"))
    return [files[i] for i in spread_rows(len(files), rows)]


def _spoil_all_but(root: Path, keep: set[Path]) -> int:
    spoiled = 0
    for file in root.rglob("*.png"):
        if file not in keep:
            file.write_bytes(GARBAGE)
            spoiled += 1
    return spoiled


def test_the_input_check_decodes_only_the_probed_images(tmp_path):
    data = _image_folders(tmp_path / "images")
    keep = {file for part in PARTS for file in _probed(data[part], PROBE_ROWS)}
    assert _spoil_all_but(tmp_path / "images", keep) == 5 * 40 - 4 * PROBE_ROWS

    check_inputs(config(tmp_path, data=data, target={"kind": "trained"}))

    with pytest.raises(DataError, match=r"^data\.members: '.*' is not a readable image; expected an image"):
        load_data(_data_config(data))


def test_imagenet_probes_decode_only_the_drawn_images_they_probe(tmp_path):
    config = _data_config(_imagenet(tmp_path))
    first = probe_data(config, rows=3)
    keep = {tmp_path / i for part in PARTS for i in getattr(first.sample, part).ids}
    assert _spoil_all_but(tmp_path, keep) == 120 - 4 * 3

    again = probe_data(config, rows=3)
    assert again.sizes == first.sizes
    np.testing.assert_array_equal(again.sample.members.features, first.sample.members.features)
    with pytest.raises(DataError, match=r"is not a readable image"):
        load_data(config)


def test_identical_images_in_members_and_non_members_are_caught_by_the_full_load(tmp_path):
    """The one check of the full data the probe leaves to the flow's load: records identical by content."""
    data = _image_folders(tmp_path, n=20)
    for file in Path(data["members"]).rglob("*.png"):
        copy = Path(data["non_members"]) / file.relative_to(data["members"])
        copy.write_bytes(file.read_bytes())
    probe_data(_data_config(data), rows=PROBE_ROWS)
    with pytest.raises(DataError, match=r"^20 records of the non_members set .* are identical to member"):
        load_data(_data_config(data))

"""Every data loader on small generated files in the real format."""

import decimal
import os
import pickle
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from audit_core.config import PoolDraw, parse_config
from audit_core.core.errors import DataError
from audit_core.data import PARTS, load_data
from audit_core.data.cifar10 import read_batch
from audit_core.data.pools import draw_parts
from audit_core.data.table import record_array
from tests.audit_core.byo import (
    FEATURES,
    N_CLASSES,
    SIZES,
    class_images,
    tabular_parts,
    write_cifar_batches,
    write_image_folder,
    write_npz,
    write_tables,
)


def _load(**data):
    return load_data(parse_config({"data": data}).data)


def test_parquet_csv_and_npz_give_the_same_records(tmp_path):
    parquet = _load(kind="table", id="id", **write_tables(tmp_path, ".parquet"))
    csv = _load(kind="table", id="id", **write_tables(tmp_path, ".csv"))
    npz = _load(kind="npz", ids_key="ids", **write_npz(tmp_path))
    expected = tabular_parts()
    for data in (parquet, csv, npz):
        assert data.n_classes == N_CLASSES
        for part, (x, y, ids) in expected.items():
            split = getattr(data, part)
            np.testing.assert_allclose(split.features, x, rtol=1e-6)
            np.testing.assert_array_equal(split.labels, y)
            np.testing.assert_array_equal(split.ids, ids)


def test_numbers_load_exactly_and_every_part_as_one_float_type(tmp_path):
    """float32 where it holds every value, float64 where it does not (integers beyond 2**24, float64
    decimals); parts of different types meet in the wider one, so a record repeated across them is caught."""
    paths = write_npz(tmp_path)
    assert {
        split.features.dtype for split in _load(kind="npz", ids_key="ids", **paths).splits().values()
    } == {np.dtype(np.float32)}
    parts = tabular_parts()
    x, y, ids = parts["members"]
    wide = (x.astype(np.int64) + 2**24 + 1).astype(np.int64)
    np.savez(paths["members"], x=wide, y=y, ids=ids)
    data = _load(kind="npz", ids_key="ids", **paths)
    assert {split.features.dtype for split in data.splits().values()} == {np.dtype(np.float64)}
    np.testing.assert_array_equal(data.members.features, wide)  # exact: float32 would round 2**24 + 1
    np.savez(paths["members"], x=x.astype(np.float64), y=y, ids=ids)
    non_x, non_y, non_ids = parts["non_members"]
    np.savez(paths["non_members"], x=np.vstack([x[:1], non_x[1:]]), y=np.r_[y[:1], non_y[1:]], ids=non_ids)
    with pytest.raises(
        DataError,
        match=r"1 records of the non_members set .* are identical to member records \(e.g. its row 0, the "
        r"same as row 0 of the members; rows counted from 0, not ids, .*\); expected disjoint sets",
    ):
        _load(kind="npz", ids_key="ids", **paths)


def test_a_folder_of_parquet_files_is_one_table_read_in_file_name_order(tmp_path):
    """A part written as Spark or Dask write a dataset (a folder of ``part-*.parquet`` files and a
    ``_SUCCESS`` marker) reads as its files in name order, one table: the same records and labels as that
    table in one file, ids by the folder's name and the row. A folder without Parquet files is a sentence."""
    paths = write_tables(tmp_path, ".parquet")
    whole = _load(kind="table", **paths)
    members = pd.read_parquet(paths["members"])
    folder = tmp_path / "members-dataset"
    folder.mkdir()
    for name, rows in (("part-00001.parquet", slice(40, None)), ("part-00000.parquet", slice(0, 40))):
        members.iloc[rows].to_parquet(folder / name)  # written out of order: read by name
    (folder / "_SUCCESS").write_text("")
    data = _load(kind="table", **{**paths, "members": str(folder)})
    np.testing.assert_array_equal(data.members.features, whole.members.features)
    np.testing.assert_array_equal(data.members.labels, whole.members.labels)
    assert data.members.ids[[0, -1]].tolist() == ["members-dataset:0", f"members-dataset:{len(members) - 1}"]
    (folder / "part-00000.parquet").unlink()
    (folder / "part-00001.parquet").rename(folder / "part-00001.csv")
    with pytest.raises(
        DataError,
        match=r"^data.members: folder '.*members-dataset' holds no Parquet file \(only \['_SUCCESS', "
        r"'part-00001.csv'\]\); expected a Parquet or CSV table, or a folder of Parquet files",
    ):
        _load(kind="table", **{**paths, "members": str(folder)})


def test_table_columns_are_chosen_by_name_and_ids_default_to_file_and_row(tmp_path):
    paths = write_tables(tmp_path, ".csv")
    members = pd.read_csv(paths["members"])
    members[["label", *reversed(FEATURES), "id"]].to_csv(paths["members"], index=False)  # shuffled columns
    data = _load(kind="table", features=FEATURES[:3], **paths)
    np.testing.assert_array_equal(data.members.features, members[FEATURES[:3]].to_numpy())  # bit for bit
    assert data.members.ids[0] == "members.csv:0" and data.members.features.dtype == np.float64


def test_without_data_features_every_table_takes_the_members_tables_column_order(tmp_path):
    """The test table lists its columns in another order: its records are still each feature in the members'
    order (the model's input order), and the data carry those column names."""
    paths = write_tables(tmp_path, ".parquet")
    test = pd.read_parquet(paths["test"])
    test[["id", *reversed(FEATURES), "label"]].to_parquet(paths["test"])
    data = _load(kind="table", id="id", **paths)
    np.testing.assert_allclose(data.test.features, tabular_parts()["test"][0], rtol=1e-6)
    assert data.feature_names == tuple(FEATURES)
    members = pd.read_parquet(paths["members"])
    members.drop(columns=FEATURES[0]).to_parquet(paths["test"])
    with pytest.raises(DataError, match=f"has no column '{FEATURES[0]}'"):
        _load(kind="table", id="id", **paths)


def _vector_tables(tmp_path, edit=None) -> dict[str, str]:
    """Tables with an int column ``n`` and a float32 list column ``v`` (the other features, per record),
    ``edit(part, frame)`` applied to each."""
    paths = {}
    for part, (x, y, ids) in tabular_parts().items():
        frame = pd.DataFrame({"n": np.arange(len(y)), "v": list(x[:, 1:]), "label": y, "id": ids})
        (edit(part, frame) if edit else frame).to_parquet(tmp_path / f"{part}.parquet")
        paths[part] = str(tmp_path / f"{part}.parquet")
    return paths


def test_a_vector_column_gives_its_numbers_in_its_place(tmp_path):
    """A Parquet list column (an embedding per record) reads as its numbers side by side, in the column's
    place, exactly; vectors of unequal length, a missing vector or text beside a vector column are one
    sentence each."""
    data = _load(kind="table", id="id", **_vector_tables(tmp_path))
    for part, (x, _, _) in tabular_parts().items():
        features = getattr(data, part).features
        assert features.dtype == np.float64  # an int64 column and float32 vectors, exactly
        np.testing.assert_array_equal(features, np.column_stack([np.arange(len(x)), x[:, 1:]]))

    def ragged(part, frame):
        if part == "test":
            frame.at[3, "v"] = frame.at[3, "v"][:-1]
        return frame

    with pytest.raises(
        DataError, match=r"Column 'v' of '.*test.parquet' holds vectors of shapes \[\(6,\), \(7,\)\]"
    ):
        _load(kind="table", id="id", **_vector_tables(tmp_path, ragged))

    def gap(part, frame):
        frame["v"] = frame["v"].astype(object)
        frame.at[2, "v"] = None
        return frame

    with pytest.raises(
        DataError, match=r"holds None at row 2; expected a vector of numbers for every record"
    ):
        _load(kind="table", id="id", **_vector_tables(tmp_path, gap))
    with pytest.raises(DataError, match=r"Column 'n' of .* holds text beside vector columns"):
        _load(kind="table", id="id", **_vector_tables(tmp_path, lambda _, f: f.assign(n=f.n.astype(str))))

    def tags(_, frame):
        return frame.assign(v=[[record, "tag"] for record in frame.id])

    words = _load(kind="table", id="id", **_vector_tables(tmp_path, tags))
    assert words.members.features.dtype == object  # a list of words (tags) stays a raw value for the model
    assert list(words.members.features[0, 1]) == ["r0", "tag"]


def test_a_decimal_column_reads_as_the_floats_a_model_was_fitted_on(tmp_path):
    """A Parquet decimal128 column (amounts, as Spark writes them; pandas reads Decimal objects, None where
    missing) reads as float64, missing as NaN: the numbers pandas' float conversion gives a model, beside
    number columns and beside text."""
    paths = {}
    for part, (x, y, ids) in tabular_parts().items():
        amounts = [decimal.Decimal(cents) / 100 for cents in range(1001, 1001 + len(y))]
        amounts[7] = None
        table = pa.table(
            {
                "amount": pa.array(amounts, pa.decimal128(8, 2)),
                "f0": x[:, 0],
                "label": y,
                "id": ids,
            }
        )
        paths[part] = str(tmp_path / f"{part}.parquet")
        pq.write_table(table, paths[part])
    data = _load(kind="table", id="id", **paths)
    expected = pd.read_parquet(paths["members"])[["amount", "f0"]].astype(np.float64).to_numpy()
    assert data.members.features.dtype == np.float64 and np.isnan(data.members.features[7, 0])
    np.testing.assert_array_equal(data.members.features, expected)
    assert data.members.features[0, 0] == 10.01
    frame = pd.read_parquet(paths["members"]).assign(note="text")[["amount", "note"]]
    rows = record_array(frame)  # beside text: the rows' number field is a float, not a Decimal
    assert type(rows[0, 0]) is float and rows[0, 0] == 10.01 and np.isnan(rows[7, 0])


def test_a_text_column_gives_raw_records(tmp_path):
    paths = {}
    for part, (_, y, ids) in tabular_parts().items():
        frame = pd.DataFrame({"text": [f"record {i} of {part}" for i in ids], "label": y, "id": ids})
        frame.to_parquet(tmp_path / f"{part}.parquet")
        paths[part] = str(tmp_path / f"{part}.parquet")
    data = _load(kind="table", id="id", **paths)
    assert data.members.features.dtype == object and data.members.features.shape == (SIZES["members"], 1)
    assert data.members.features[0, 0] == "record r0 of members" and not data.members.numeric


def test_a_column_holding_text_in_one_part_and_numbers_in_another_is_refused(tmp_path):
    """A number column with a '?' in one CSV file reads as text there: refused, naming the row. A text column
    left empty in one file (pandas reads it as NaN floats), categories of text beside plain text, and a
    boolean column are alike in every part, and load."""
    paths = {}
    for part, (x, y, ids) in tabular_parts().items():
        frame = pd.DataFrame(
            {
                "f0": x[:, 0],
                "city": pd.Categorical(["Oslo", "Lima"] * (len(y) // 2)) if part == "members" else "Oslo",
                "note": None if part == "test" else [f"note {i}" for i in ids],
                "flag": y % 2 == 0,
                "label": y,
                "id": ids,
            }
        )
        paths[part] = str(tmp_path / f"{part}.csv")
        frame.to_csv(paths[part], index=False)
    data = _load(kind="table", id="id", **paths)
    assert data.members.features.shape == (SIZES["members"], 4) and np.isnan(data.test.features[0, 2])
    population = pd.read_csv(paths["population"])
    population["f0"] = population["f0"].astype(object).where(population.index != 4, "?")
    population.to_csv(paths["population"], index=False)
    expected = (
        f"Column 'f0' holds text in data.population ('{paths['population']}', first at row 4, counted from "
        f"0, reads '?') but numbers in data.members ('{paths['members']}'); expected numbers in every part"
    )
    with pytest.raises(DataError, match=f"^{re.escape(expected)}"):
        _load(kind="table", id="id", **paths)


def test_image_folder_decodes_pngs_with_the_configured_transform(tmp_path):
    classes = ["cat", "dog", "eel"]
    paths, originals = {}, {}
    for seed, part in enumerate(PARTS):
        images, labels = class_images(12, seed)
        originals[part] = (images, labels)
        paths[part] = str(write_image_folder(tmp_path / part, images, labels, classes))
    mean, std = [0.5, 0.4, 0.3], [0.2, 0.25, 0.3]
    data = _load(kind="image_folder", transform={"mean": mean, "std": std}, **paths)
    images, labels = originals["members"]
    order = np.lexsort((np.arange(len(labels)), labels))  # ImageFolder lists class by class, files by name
    expected = (images[order].transpose(0, 3, 1, 2) / 255.0 - np.array(mean)[:, None, None]) / np.array(std)[
        :, None, None
    ]
    np.testing.assert_allclose(data.members.features, expected, atol=1e-5)
    np.testing.assert_array_equal(data.members.labels, labels[order])
    assert data.members.ids[0].startswith("members/cat/") and data.n_classes == 3


def test_image_folder_resize_and_grayscale(tmp_path):
    paths = {}
    for seed, part in enumerate(PARTS):
        paths[part] = str(
            write_image_folder(tmp_path / part, *class_images(10, seed, size=12), ["a", "b", "c"])
        )
    data = _load(kind="image_folder", transform={"resize": 6, "center_crop": 4, "grayscale": True}, **paths)
    assert data.test.features.shape[1:] == (1, 4, 4)


def test_image_folder_classes_set_the_class_order_and_leave_other_folders_out(tmp_path):
    """data.classes: the model's output order (not sorted), a folder not listed is left out, a listed folder
    that a part lacks is refused."""
    paths = {}
    for seed, part in enumerate(PARTS):
        paths[part] = str(write_image_folder(tmp_path / part, *class_images(18, seed), ["cat", "dog", "eel"]))
    sorted_order = _load(kind="image_folder", **paths)
    listed = _load(kind="image_folder", classes=["eel", "cat"], **paths)
    assert listed.n_classes == 2
    for part in PARTS:
        kept = np.isin(getattr(sorted_order, part).labels, [0, 2])
        ids = dict(zip(getattr(listed, part).ids, getattr(listed, part).labels, strict=True))
        assert set(ids) == set(getattr(sorted_order, part).ids[kept])
        assert all(label == (0 if name.split("/")[1] == "eel" else 1) for name, label in ids.items())
    with pytest.raises(
        DataError, match=r"data\.members: folder .* has no class folder 'emu', which data\.classes"
    ):
        _load(kind="image_folder", classes=["cat", "emu"], **paths)
    with pytest.raises(ValueError, match="classes must be distinct; 'cat' appears more than once"):
        _load(kind="image_folder", classes=["cat", "dog", "cat"], **paths)


def test_cifar10_batches_load_from_the_standard_folder(tmp_path):
    folder = write_cifar_batches(tmp_path / "cifar-10-batches-py")
    draws = {
        "members": {"pool": "train", "count": 50},
        "non_members": {"pool": "train", "count": 50},
        "population": {"pool": "train"},
        "test": {"pool": "test"},
    }
    data = _load(kind="cifar10", root=str(tmp_path), transform={}, **draws)
    assert [len(s) for s in data.splits().values()] == [50, 50, 100, 40]
    images, labels = read_batch(folder / "data_batch_1")
    first = data.members.ids[0]
    pool, index = first.split(":")[1], int(first.split(":")[2])
    assert pool == "train" and data.members.features.shape[1:] == (3, 32, 32)
    if index < 40:  # the record is in the first batch: its pixels survived the round trip
        np.testing.assert_allclose(data.members.features[0], images[index] / 255.0, atol=1e-6)
        assert data.members.labels[0] == labels[index]
    assert len(set(np.concatenate([s.ids for s in data.splits().values()]))) == 240


def test_cifar10_default_transform_normalises_with_cifar_statistics(tmp_path):
    write_cifar_batches(tmp_path / "cifar-10-batches-py", n_per_batch=10)
    draws = {p: {"pool": "train", "count": 10} for p in ("members", "non_members", "population")}
    data = _load(kind="cifar10", root=str(tmp_path / "cifar-10-batches-py"), test={"pool": "test"}, **draws)
    assert data.test.features.min() < -1.5 and data.test.features.max() > 1.5


class _Exploit:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_a_tampered_cifar_batch_cannot_run_code(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = write_cifar_batches(tmp_path / "cifar", n_per_batch=4)
    (folder / "data_batch_3").write_bytes(pickle.dumps({b"data": _Exploit(), b"labels": []}, protocol=2))
    with pytest.raises(DataError, match=r"global posix\.system is not allowed in a CIFAR-10 batch"):
        read_batch(folder / "data_batch_3")
    assert not (tmp_path / "pwned").exists()


def _imagenet_tree(root, pools: dict[str, int], wnids: list[str]) -> None:
    for seed, (pool, n) in enumerate(pools.items()):
        images, labels = class_images(n, seed + 10, size=12)
        write_image_folder(root / pool if pool != "all" else root, images, labels % len(wnids), wnids)


def test_imagenet_train_val_layout_with_a_class_subset(tmp_path):
    wnids = ["n01440764", "n01443537", "n01484850"]
    _imagenet_tree(tmp_path, {"train": 60, "val": 15}, wnids)
    (tmp_path / "train" / "n09999999").mkdir()  # a class outside the subset is ignored
    draws = {"members": {"pool": "train", "count": 20}, "non_members": {"pool": "train", "count": 20}}
    data = _load(
        kind="imagenet",
        root=str(tmp_path),
        classes=wnids,
        transform={
            "resize": 8,
            "center_crop": 8,
            "mean": [0.485, 0.456, 0.406],
            "std": [0.229, 0.224, 0.225],
        },
        population={"pool": "train"},
        test={"pool": "val"},
        **draws,
    )
    assert [len(s) for s in data.splits().values()] == [20, 20, 20, 15]
    assert data.members.features.shape[1:] == (3, 8, 8) and data.n_classes == 3
    assert all(i.startswith("train/n014") for i in data.members.ids) and data.test.ids[0].startswith("val/")


def test_imagenet10_single_folder_is_one_pool(tmp_path):
    _imagenet_tree(tmp_path, {"all": 40}, ["n1", "n2"])
    draws = {p: {"pool": "all", "count": 10} for p in PARTS}
    data = _load(kind="imagenet", root=str(tmp_path), transform={"resize": 8, "center_crop": 8}, **draws)
    for split in data.splits().values():
        assert split.labels.tolist() == [["n1", "n2"].index(i.split("/")[1]) for i in split.ids]


@pytest.mark.parametrize(
    ("dataset", "n_rows", "n_features", "n_classes"),
    [("breast_cancer", 569, 30, 2), ("wine", 178, 13, 3), ("synthetic", 6000, 20, 10)],
)
def test_tabular_demo_sets_are_standardised(dataset, n_rows, n_features, n_classes):
    data = _load(kind="demo", dataset=dataset, n_members=40, n_non_members=40, n_population=80)
    rows = np.concatenate([s.features for s in data.splits().values()])
    assert rows.shape == (n_rows, n_features) and data.n_classes == n_classes
    np.testing.assert_allclose(rows.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(rows.std(axis=0), 1, atol=1e-4)


def test_pool_draws_are_disjoint_reproducible_and_take_the_rest():
    draws = {
        "members": PoolDraw(pool="train", count=30),
        "non_members": PoolDraw(pool="test", count=10),
        "population": PoolDraw(pool="train"),
        "test": PoolDraw(pool="test"),
    }
    parts = draw_parts(draws, {"train": 100, "test": 25}, seed=3)
    assert [len(i) for _, i in parts.values()] == [30, 10, 70, 15]
    train = np.concatenate([parts["members"][1], parts["population"][1]])
    assert sorted(train.tolist()) == list(range(100))
    again = draw_parts(draws, {"train": 100, "test": 25}, seed=3)
    assert all(np.array_equal(parts[p][1], again[p][1]) for p in PARTS)

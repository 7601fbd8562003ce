"""The paper-protocol benchmark end to end: the built-in path, and CIFAR-10 and ImageNet-10 stand-ins in their
real on-disk formats, each with tiny recipes (real training and attacks, no mocks)."""

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from audit_core.audit.signals import LogitSet, ReferenceLogits, Signals, target_signals
from audit_core.config import TrainingRecipe
from audit_core.data import load_demo_data
from audit_core.targets import TorchTarget
from audit_core.training import train_classifier
from benchmarks.paper_protocol import asr_margin, main
from experiments.paper_protocol import (
    ADAPTIVE_ATTACKS,
    PAPER_ATTACKS,
    PaperSplit,
    ProtocolSettings,
    balanced,
    calibration_signals,
    is_canary,
    paper_split,
    plant_canaries,
)
from tests.audit_core.byo import class_images, write_cifar_batches, write_image_folder

DEFENSES = [
    "no defense",
    "DynaNoise (paper)",
    "DynaNoise (tuned)",
    "static_noise",
    "temperature",
    "hamp",
    "memguard",
    "reverse_sigmoid",
    "top_k",
    "label_only",
]
# quick: few epochs, trials and models; a budget any setting meets (the 1-point default is for real runs)
QUICK = ["--trials", "3", "--max-queries", "2", "--reference-models", "4", "--budget", "1"]


def _run(tmp_path, *args):
    results = main([*args, *QUICK, "--out", str(tmp_path)])
    folder = tmp_path / args[0]
    tables = {name: pq.read_table(folder / f"{name}.parquet") for name in ("paper_table", "adaptive_table")}
    return results, tables, json.loads((folder / "protocol.json").read_text())


def _check_tables(results, tables):
    """Both tables read back: every defense per seed, in order, with the paper's and our columns."""
    paper, adaptive = (tables[name].to_pandas() for name in ("paper_table", "adaptive_table"))
    for table in (paper, adaptive):
        assert table.seed.tolist() == np.repeat(list(results), len(DEFENSES)).tolist()
        assert table.defense.tolist() == DEFENSES * len(results)
    assert list(paper.columns) == ["seed", "defense", "condition", "accuracy", *PAPER_ATTACKS, "midput"]
    for attack in ADAPTIVE_ATTACKS:
        assert {f"{attack}_auc", f"{attack}_tpr_at_1pct_fpr"} <= set(adaptive.columns)
    assert tables["paper_table"].schema.metadata[b"dynaudit.kind"] == b"paper_table"
    first = next(iter(results))
    np.testing.assert_allclose(paper[paper.seed == first].midput, results[first].paper.midput)
    return paper, adaptive


def _check_midput(paper):
    """MIDPUT is the mean ASR reduction minus the accuracy drop, so it is 0 for no defense by definition."""
    attacks = list(PAPER_ATTACKS)
    drop = paper.at["no defense", "accuracy"] - paper.accuracy
    reduction = paper.loc["no defense", attacks].astype(float) - paper[attacks]
    expected = reduction.mean(axis=1) - drop
    np.testing.assert_allclose(paper.midput, expected, atol=1e-12)
    assert paper.at["no defense", "midput"] == 0


def test_the_split_follows_the_papers_shares():
    split = paper_split(ProtocolSettings(dataset="digits"))
    assert split.test == 300 and split.members + split.non_members + split.population + split.test == 1797
    assert split.members / (split.members + split.non_members) == pytest.approx(0.8, abs=0.002)
    assert (split.members + split.non_members) / (1797 - 300) == pytest.approx(0.7, abs=0.001)
    assert abs(split.shadow_in - split.shadow_out) <= 1
    assert PaperSplit.of_pool(50_000, 10_000).non_members == 7000


def _logits(values: np.ndarray) -> LogitSet:
    n = len(values)
    return LogitSet(np.repeat(values[:, None], 3, axis=1), np.zeros(n, int), np.arange(n).astype(str))


def test_the_shadow_attacks_use_shadow_model_0_and_paper_lira_models_1_to_3():
    """Pooled shadow outputs stack the four models in order; here each model's logits equal its index."""
    audit = _logits(np.zeros(4))
    references = ReferenceLogits(
        np.zeros((4, 8, 3)), np.zeros((4, 8), bool), np.zeros((4, 2, 3)), np.zeros(2)
    )
    signals = Signals(audit, audit, audit).with_models(
        (_logits(np.repeat(np.arange(4.0), 5)), _logits(np.repeat(np.arange(4.0), 6))), references
    )
    shadow = calibration_signals(signals, (0,), ("shadow", "rmia"))
    assert shadow.shadow_members.logits[:, 0].tolist() == [0.0] * 5 and len(shadow.shadow_non_members) == 6
    assert shadow.references is references
    lira = calibration_signals(signals, (1, 2, 3), ("paper_lira",))
    assert lira.shadow_non_members.logits[:, 0].tolist() == [1.0] * 6 + [2.0] * 6 + [3.0] * 6
    assert lira.references is None, "paper_lira needs no reference models"


@pytest.mark.slow  # about 25 s on 2 busy cores
def test_built_in_path_writes_both_tables_with_the_papers_properties(tmp_path):
    results, tables, provenance = _run(tmp_path, "digits", "--epochs", "30", "--repeats", "1")
    paper, adaptive = (t.set_index("defense") for t in _check_tables(results, tables))
    _check_midput(paper)
    n = results[0].evaluated
    assert n["members"] == n["non_members"] == 105, "balanced evaluation set, half of it for tuning"
    assert provenance["runs"][0]["split"]["members"] == 838 and provenance["runs"][0]["evaluated"] == n
    # no paper attack does worse than chance beyond sampling noise; the strongest AUC is above chance
    margin = asr_margin(n["members"], n["non_members"])
    assert (paper.loc["no defense", list(PAPER_ATTACKS)] >= 0.5 - margin).all()
    assert adaptive.at["no defense", "strongest_auc_low"] > 0.5
    # label-preserving defenses cannot change accuracy; one-hot outputs leave confidence nothing to rank
    for defense in ("temperature", "top_k", "memguard", "hamp", "label_only"):
        assert paper.at[defense, "accuracy"] == paper.at["no defense", "accuracy"]
    assert adaptive.at["label_only", "confidence_auc"] == 0.5
    # at T = 10 no released probability exceeds the paper's fixed 0.9: its confidence rule flags nobody
    assert paper.at["DynaNoise (paper)", "confidence"] == 0.5
    # noise is averaged over repeated (per query) or near-duplicate (per input) queries; a fixed map is not
    assert adaptive.at["DynaNoise (paper)", "averaging_queries"] == 2
    assert adaptive.at["DynaNoise (tuned)", "averaging_queries"] == 2
    assert adaptive.at["temperature", "averaging_queries"] == 1


@pytest.mark.slow  # about 20 s on 2 busy cores
def test_cifar10_from_a_local_folder_of_python_batches(tmp_path):
    root = write_cifar_batches(tmp_path / "data" / "cifar-10-batches-py", n_per_batch=40)
    args = ["cifar10", str(root.parent), "--pool-size", "200", "--test-size", "40", "--epochs", "2"]
    results, tables, provenance = _run(tmp_path, *args)
    paper, _ = _check_tables(results, tables)
    _check_midput(paper.set_index("defense"))
    split = {"members": 112, "non_members": 28, "shadow_in": 30, "shadow_out": 30, "test": 40}
    assert [run["split"] for run in provenance["runs"]] == [split], "one seed by default for image sets"
    assert results[0].evaluated == {"members": 14, "non_members": 14, "test": 20}


@pytest.mark.slow  # about 20 s on 2 busy cores
def test_imagenet10_from_one_folder_of_class_folders_over_two_seeds(tmp_path, capsys):
    images, labels = class_images(200, seed=3, size=12)
    root = write_image_folder(tmp_path / "imagenet-10", images, labels, ["n015", "n021", "n043"])
    args = ["imagenet10", str(root), "--image-size", "8", "--epochs", "2", "--repeats", "2", "--seed", "5"]
    results, tables, provenance = _run(tmp_path, *args)
    paper, _ = _check_tables(results, tables)
    for seed in (5, 6):
        _check_midput(paper[paper.seed == seed].set_index("defense"))
    splits = [run["split"] for run in provenance["runs"]]
    assert splits[0] == splits[1] and splits[0]["test"] == 40, "the artifact's 80/20 split of the folder"
    assert sum(splits[0].values()) == 200
    assert not np.array_equal(paper[paper.seed == 5].accuracy, paper[paper.seed == 6].accuracy)
    mean = paper.groupby("defense", sort=False).accuracy.mean()
    assert f"| no defense | {mean['no defense']:.4f} ± " in capsys.readouterr().out


def test_canaries_are_mislabelled_reproducibly_and_survive_the_balanced_subsample():
    data = load_demo_data("wine", n_members=60, n_non_members=30, n_population=40)
    planted = plant_canaries(data, 5, np.random.default_rng(0))
    again = plant_canaries(data, 5, np.random.default_rng(0))
    for part in ("members", "non_members"):
        before, after = getattr(data, part), getattr(planted, part)
        canary = is_canary(after.ids)
        assert canary.sum() == 5 and np.array_equal(after.ids, getattr(again, part).ids)
        assert np.all(after.labels[canary] != before.labels[canary]), "every canary gets a wrong label"
        assert np.array_equal(after.labels[~canary], before.labels[~canary])
        assert np.array_equal(after.features, before.features)
    recipe = TrainingRecipe(hidden_sizes=(16,), epochs=2)
    target = TorchTarget(
        train_classifier(planted.members.features, planted.members.labels, 3, recipe, seed=0)
    )
    signals = balanced(target_signals(target, planted), np.random.default_rng(1))
    assert len(signals.members) == 30 and is_canary(signals.members.ids).sum() == 5


def test_image_sets_need_a_folder_and_built_in_sets_refuse_one(tmp_path):
    with pytest.raises(SystemExit):
        main(["cifar10"])
    with pytest.raises(SystemExit):
        main(["digits", str(tmp_path)])

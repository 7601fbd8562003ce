"""Every target kind and data format through a full audit (the plain composition, no Prefect)."""

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import skops.io as sio
import torch
from safetensors.torch import save_file
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier, VotingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder
from torch import nn

from audit_core.audit.inputs import check_inputs
from audit_core.audit.run import run_tuning
from audit_core.audit.write import write_run_folder
from audit_core.config import DEFAULT_ATTACKS, AuditConfig
from audit_core.core.errors import TargetError
from audit_core.core.files import sha256_file
from audit_core.data import PARTS, load_demo_data
from audit_core.defenses import DynaNoise
from audit_core.tuning.search import TuningError
from tests.audit_core.byo import (
    FEATURES,
    N_CLASSES,
    N_FEATURES,
    class_images,
    config,
    member_mlp,
    run_audit,
    tabular_parts,
    write_cifar_batches,
    write_image_folder,
    write_npz,
    write_tables,
)
from tests.audit_core.models import TokenMean, text_logits

# One attack for each kind of input: a shadow, references, references and target population, nothing.
ONE_PER_INPUT = ["loss", "lira_offline", "rmia", "label_only"]
MLP_FACTORY = {
    "architecture": "tests.audit_core.models:mlp",
    "architecture_kwargs": {"n_features": N_FEATURES, "n_classes": N_CLASSES},
}


@dataclass(frozen=True)
class Case:
    """One audit: its config fields, and what the result must show."""

    fields: dict
    accuracy: float | None = None  # the target's own test accuracy, computed without dynaudit
    target_digest: str | None = None  # the SHA-256 the manifest must record for the target
    leaks: bool = False  # the target memorised its members, so the attacks must beat chance
    skipped: frozenset[str] = frozenset()  # attacks whose inputs this audit lacks


@pytest.fixture(scope="module")
def mlp():
    return member_mlp()


def _mlp_accuracy(module) -> float:
    x, y, _ = tabular_parts()["test"]
    with torch.no_grad():
        return float((module(torch.as_tensor(x)).argmax(1).numpy() == y).mean())


def torch_script_on_parquet(tmp, mlp) -> Case:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.script(mlp).save(str(tmp / "model.pt"))
    data = {"kind": "table", "id": "id", **write_tables(tmp, ".parquet")}
    target = {"kind": "torch_script", "path": str(tmp / "model.pt"), "trust_code": True}
    fields = {"data": data, "target": target, "attacks": DEFAULT_ATTACKS}  # the whole battery, once
    return Case(fields, _mlp_accuracy(mlp), sha256_file(tmp / "model.pt"), True)


def state_dict_on_npz(tmp, mlp) -> Case:
    torch.save(mlp.state_dict(), tmp / "weights.pth")
    target = {"kind": "torch_state_dict", "weights": str(tmp / "weights.pth"), **MLP_FACTORY}
    data = {"kind": "npz", "ids_key": "ids", **write_npz(tmp)}
    return Case({"data": data, "target": target}, _mlp_accuracy(mlp), None, True)


def safetensors_on_csv(tmp, mlp) -> Case:
    save_file({k: v.contiguous() for k, v in mlp.state_dict().items()}, tmp / "weights.safetensors")
    target = {"kind": "torch_state_dict", "weights": str(tmp / "weights.safetensors"), **MLP_FACTORY}
    data = {"kind": "table", "id": "id", **write_tables(tmp, ".csv")}
    return Case({"data": data, "target": target}, _mlp_accuracy(mlp), None, True)


def onnx_on_parquet(tmp, mlp) -> Case:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            mlp, (torch.zeros(2, N_FEATURES),), str(tmp / "m.onnx"), dynamic_axes={"x": {0: "n"}},
            input_names=["x"], dynamo=False,
        )  # fmt: skip
    data = {"kind": "table", "id": "id", **write_tables(tmp, ".parquet")}
    target = {"kind": "onnx", "path": str(tmp / "m.onnx")}
    return Case({"data": data, "target": target}, _mlp_accuracy(mlp), sha256_file(tmp / "m.onnx"), True)


def _demo_classifier(dataset: str, sizes: dict, path: Path, dump) -> tuple[dict, float]:
    data = load_demo_data(dataset, **sizes)
    model = LogisticRegression(max_iter=1000).fit(data.members.features, data.members.labels)
    dump(model, path)
    accuracy = float((model.predict(data.test.features) == data.test.labels).mean())
    return {"kind": "demo", "dataset": dataset, **sizes}, accuracy


def skops_on_breast_cancer(tmp, mlp) -> Case:
    sizes = {"n_members": 100, "n_non_members": 100, "n_population": 250}
    data, accuracy = _demo_classifier("breast_cancer", sizes, tmp / "lr.skops", sio.dump)
    target = {"kind": "sklearn", "path": str(tmp / "lr.skops")}
    return Case({"data": data, "target": target}, accuracy, sha256_file(tmp / "lr.skops"))


def skops_on_an_embedding_column(tmp, mlp) -> Case:
    """A model fitted on arrays, the data a Parquet list column of each record's features (an embedding)."""
    parts = tabular_parts()
    x, y, _ = parts["members"]
    model = LogisticRegression(C=100.0, max_iter=2000).fit(x, y)
    sio.dump(model, tmp / "lr.skops")
    paths = {}
    for part, (x, y, ids) in parts.items():
        pd.DataFrame({"embedding": list(x), "label": y, "id": ids}).to_parquet(tmp / f"{part}.parquet")
        paths[part] = str(tmp / f"{part}.parquet")
    x, y, _ = parts["test"]
    target = {"kind": "sklearn", "path": str(tmp / "lr.skops")}
    fields = {"data": {"kind": "table", "id": "id", **paths}, "target": target}
    return Case(fields, model.score(x, y), sha256_file(tmp / "lr.skops"))


def joblib_on_wine(tmp, mlp) -> Case:
    sizes = {"n_members": 30, "n_non_members": 30, "n_population": 70}
    data, accuracy = _demo_classifier("wine", sizes, tmp / "lr.joblib", joblib.dump)
    target = {"kind": "sklearn", "path": str(tmp / "lr.joblib"), "trust_pickle": True}
    return Case({"data": data, "target": target}, accuracy, sha256_file(tmp / "lr.joblib"))


def callable_on_text_with_reference_predictions(tmp, mlp) -> Case:
    rng = np.random.default_rng(5)
    words = np.array(["a", "cat", "sat", "on", "the", "mat", "eel", "zoo"])
    paths, frames = {}, {}
    for part, (_, y, ids) in tabular_parts().items():
        texts = [" ".join([*rng.choice(words, size=rng.integers(1, 6)), i]) for i in ids]  # unique records
        frames[part] = pd.DataFrame({"text": texts, "label": y, "id": ids})
        paths[part] = str(tmp / f"{part}.parquet")
        frames[part].to_parquet(paths[part])
    population = frames["population"]
    logits = text_logits(population[["text"]].to_numpy(dtype=object))
    reference = pd.DataFrame(logits, columns=["c0", "c1", "c2"]).assign(
        id=population.id, in_training=rng.random(len(population)) < 0.5
    )
    reference.to_parquet(tmp / "reference.parquet")
    test = frames["test"]
    accuracy = float((text_logits(test[["text"]].to_numpy(dtype=object)).argmax(1) == test.label).mean())
    return Case(
        {
            "data": {"kind": "table", "id": "id", **paths},
            "target": {"kind": "callable", "function": "tests.audit_core.models:text_logits"},
            "shadow": {"kind": "predictions", "path": str(tmp / "reference.parquet")},
            "reference_models": 0,  # text records: no reference models to train
        },
        accuracy,
        skipped=frozenset({"lira_offline", "rmia"}),
    )


def predictions_on_parquet_with_trained_shadow(tmp, mlp) -> Case:
    rows = []
    for x, _, ids in tabular_parts().values():
        with torch.no_grad():
            probs = torch.softmax(mlp(torch.as_tensor(x)), dim=1).numpy()
        rows.append(pd.DataFrame(probs, columns=["p0", "p1", "p2"]).assign(id=ids))
    pd.concat(rows).to_parquet(tmp / "predictions.parquet")
    target = {"kind": "predictions", "path": str(tmp / "predictions.parquet"), "output": "probabilities"}
    data = {"kind": "table", "id": "id", **write_tables(tmp, ".parquet")}
    digest = sha256_file(tmp / "predictions.parquet")
    return Case({"data": data, "target": target}, _mlp_accuracy(mlp), digest, True)


def trained_on_image_folder(tmp, mlp) -> Case:
    sizes = {"members": 30, "non_members": 30, "population": 60, "test": 30}
    classes = ["cat", "dog", "eel"]
    parts = {
        part: str(write_image_folder(tmp / part, *class_images(sizes[part], seed), classes))
        for seed, part in enumerate(PARTS)
    }
    data = {"kind": "image_folder", **parts}
    return Case({"data": data, "target": {"kind": "trained"}})


def trained_on_cifar10(tmp, mlp) -> Case:
    write_cifar_batches(tmp / "cifar-10-batches-py", n_per_batch=30)
    draws = {
        "members": {"pool": "train", "count": 30},
        "non_members": {"pool": "train", "count": 30},
        "population": {"pool": "train"},
        "test": {"pool": "test"},
    }
    return Case({"data": {"kind": "cifar10", "root": str(tmp), **draws}, "target": {"kind": "trained"}})


def trained_on_imagenet_folders(tmp, mlp) -> Case:
    wnids = ["n01440764", "n01443537", "n01484850"]
    for seed, (pool, n) in enumerate({"train": 150, "val": 30}.items()):
        write_image_folder(tmp / pool, *class_images(n, seed, size=12), wnids)
    draws = {
        "members": {"pool": "train", "count": 30},
        "non_members": {"pool": "train", "count": 30},
        "population": {"pool": "train"},
        "test": {"pool": "val"},
    }
    data = {"kind": "imagenet", "root": str(tmp), "transform": {"resize": 8, "center_crop": 8}, **draws}
    return Case({"data": data, "target": {"kind": "trained"}})


CASES = [
    torch_script_on_parquet,
    state_dict_on_npz,
    safetensors_on_csv,
    onnx_on_parquet,
    skops_on_breast_cancer,
    skops_on_an_embedding_column,
    joblib_on_wine,
    callable_on_text_with_reference_predictions,
    predictions_on_parquet_with_trained_shadow,
    trained_on_image_folder,
    trained_on_cifar10,
    trained_on_imagenet_folders,
]


@pytest.mark.parametrize("build", CASES, ids=[c.__name__ for c in CASES])
def test_full_audit(build, tmp_path, mlp):
    case = build(tmp_path, mlp)
    audit = config(tmp_path, **{"attacks": ONE_PER_INPUT, **case.fields})
    result = run_audit(audit)
    baseline, defended = result.baseline, result.defended[0]
    assert [e.condition for e in result.evaluations] == ["undefended", defended.condition]
    assert set(baseline.skipped) == case.skipped
    assert result.attacks == [a for a in audit.attacks if a not in case.skipped]
    if case.accuracy is not None:
        assert baseline.test_accuracy.value == pytest.approx(case.accuracy, abs=1e-12)
    else:  # dynaudit trained the target: it must beat guessing (Wilson interval above 1/k)
        assert baseline.test_accuracy.ci_low > 1 / N_CLASSES
    if case.target_digest is not None:
        assert result.provenance["fingerprints"]["target"] == case.target_digest
    if case.leaks:  # a memorised training set: the loss attack's AUC interval lies above chance
        assert baseline.outcome("loss", "naive").auc.ci_low > 0.5


def test_a_budget_no_setting_keeps_is_warned_about_and_the_audit_goes_on(tmp_path, mlp):
    """Every DynaNoise trial costs more accuracy than the budget (all very noisy). The tuning command ends
    with that sentence, but an audit goes on without a tuned DynaNoise: the configured DynaNoise is audited,
    and the warning (in the report too) says why; an audit whose one defense was to be the tuned one ends."""
    case = state_dict_on_npz(tmp_path, mlp)
    tune = {"n_trials": 3, "budget": 0.0, "sigma0_sq_range": [50.0, 60.0], "baselines": False}
    audit = config(tmp_path, attacks=["loss", "label_only"], tune=tune, **case.fields)
    result = run_audit(audit)
    assert result.tuned is None
    assert [e.condition for e in result.evaluations] == ["undefended", DynaNoise().label]
    [warning] = [w for w in result.provenance["warnings"] if "No DynaNoise setting among 3 trials" in w]
    assert warning.endswith(
        "(the first 10 are drawn at random). The audit went on without a tuned DynaNoise."
    )
    report = " ".join((write_run_folder(audit, result, []) / "report.html").read_text().split())
    assert (
        warning in report and "as configured, since the tuning kept no setting within its accuracy" in report
    )
    with pytest.raises(TuningError, match="No DynaNoise setting among 3 trials"):
        run_tuning(audit)
    with pytest.raises(TuningError, match="No DynaNoise setting among 3 trials"):  # it was the one defense
        run_audit(config(tmp_path, attacks=["loss"], tune=tune, defenses=[], **case.fields))


def test_black_box_audit_without_a_shadow_skips_the_calibrated_attacks_and_says_why(tmp_path, mlp):
    """Logits only (no features, no shadow, no reference models): the fixed-rule attacks still run."""
    paths, rows = {}, []
    for part, (x, y, ids) in tabular_parts().items():
        pd.DataFrame({"id": ids, "label": y}).to_csv(tmp_path / f"{part}.csv", index=False)
        paths[part] = str(tmp_path / f"{part}.csv")
        if part != "population":  # the target's owner logged the audit records only
            with torch.no_grad():
                logits = mlp(torch.as_tensor(x)).numpy()
            rows.append(pd.DataFrame(logits, columns=["z0", "z1", "z2"]).assign(id=ids))
    pd.concat(rows).to_parquet(tmp_path / "logits.parquet")
    audit = config(
        tmp_path,
        data={"kind": "table", "id": "id", **paths},
        target={"kind": "predictions", "path": str(tmp_path / "logits.parquet")},
        shadow={"kind": "none"},
        reference_models=0,
        attacks=["loss", "rmia", "label_only", "paper_loss", "boundary"],
    )
    result = run_audit(audit)
    assert result.attacks == ["label_only", "paper_loss"]
    assert set(result.baseline.skipped) == {"loss", "rmia", "boundary"}
    assert "needs shadow" in result.baseline.skipped["loss"]
    assert "reference models and the target's outputs on population" in result.baseline.skipped["rmia"]
    assert "number fields or texts of words to perturb" in result.baseline.skipped["boundary"]  # ids only
    gap = result.baseline.outcome("label_only", "naive")
    assert gap.balanced_accuracy.ci_low > 0.5  # members are all classified correctly, non-members are not

    run_dir = write_run_folder(audit, result, [])
    metrics = pd.read_parquet(run_dir / "metrics.parquet")
    assert set(metrics.loc[metrics.metric == "skipped", "attack"]) == {"loss", "rmia", "boundary"}
    report = (run_dir / "report.html").read_text()
    assert "Skipped attacks:" in report and "The attacker has no shadow model" in report


def test_qmia_audits_a_model_without_shadow_or_reference_models(tmp_path, mlp):
    """QMIA needs only the target's answers on the population and the records' features: on a TorchScript
    target with reference_models 0 and no shadow it runs, finds the memorised members, and is the one
    calibrated attack that does."""
    case = torch_script_on_parquet(tmp_path, mlp)
    audit = config(
        tmp_path,
        **{
            **case.fields,
            "attacks": ["qmia", "loss", "augmentation"],
            "shadow": {"kind": "none"},
            "reference_models": 0,
        },
    )
    result = run_audit(audit)
    assert result.attacks == ["qmia"]
    assert set(result.baseline.skipped) == {"loss", "augmentation"}
    assert result.baseline.outcome("qmia", "naive").auc.ci_low > 0.5


def test_classes_named_in_the_data_are_named_in_the_report(tmp_path):
    """Labels given as names (data.classes) and a model fitted on them: the audit reads each name as the
    model's column for it, and the report's per-class table and most exposed members show the names."""
    names = ["cat", "dog", "eel"]
    paths = {}
    for part, (x, y, ids) in tabular_parts().items():
        paths[part] = str(tmp_path / f"{part}.csv")
        pd.DataFrame(x, columns=FEATURES).assign(label=np.array(names)[y], id=ids).to_csv(
            paths[part], index=False
        )
    x, y, _ = tabular_parts()["members"]
    model = LogisticRegression(max_iter=500).fit(x, np.array(names)[y])
    sio.dump(model, tmp_path / "named.skops")
    audit = config(
        tmp_path,
        data={"kind": "table", "id": "id", "classes": names, **paths},
        target={"kind": "sklearn", "path": str(tmp_path / "named.skops")},
        attacks=ONE_PER_INPUT,
    )
    result = run_audit(audit)
    x, y, _ = tabular_parts()["test"]
    assert result.baseline.test_accuracy.value == pytest.approx(model.score(x, np.array(names)[y]), abs=1e-12)
    html = (write_run_folder(audit, result, []) / "report.html").read_text()
    per_class = html.split("<h3>Per class</h3>", 1)[1].split("<h3>", 1)[0]
    assert all(f"<tr><td>{name}</td>" in per_class for name in names)
    exposed = html.split("<h3>Most exposed members</h3>", 1)[1].split("</table>", 1)[0]
    assert exposed.count("<td>cat</td>") + exposed.count("<td>dog</td>") + exposed.count("<td>eel</td>") == 10


def test_a_model_that_takes_missing_values_is_audited_on_them(tmp_path):
    """A fifth of the feature values missing (NaN, as empty CSV cells) and a gradient-boosted model that
    takes them: every attack runs, its clones train on the same gaps, and the test accuracy is the model's
    own score on the records as they are."""
    rng = np.random.default_rng(7)
    paths, parts = {}, {}
    for part, (x, y, ids) in tabular_parts().items():
        x = np.where(rng.random(x.shape) < 0.2, np.nan, x)
        parts[part] = (x, y)
        paths[part] = str(tmp_path / f"{part}.csv")
        pd.DataFrame(x, columns=FEATURES).assign(label=y, id=ids).to_csv(paths[part], index=False)
    x, y = parts["members"]
    model = HistGradientBoostingClassifier(max_iter=60, random_state=0).fit(x, y)
    joblib.dump(model, tmp_path / "hgb.joblib")
    attacks = ["loss", "lira_offline", "qmia", "augmentation", "boundary", "label_only"]
    audit = config(
        tmp_path,
        data={"kind": "table", "id": "id", **paths},
        target={"kind": "sklearn", "path": str(tmp_path / "hgb.joblib"), "trust_pickle": True},
        attacks=attacks,
    )
    result = run_audit(audit)
    assert result.attacks == attacks and not result.baseline.skipped
    assert result.baseline.test_accuracy.value == pytest.approx(model.score(*parts["test"]), abs=1e-12)
    for evaluation in result.evaluations:
        for attack in attacks:
            assert 0.0 <= evaluation.outcome(attack, "naive").auc.value <= 1.0
    assert result.baseline.outcome("loss", "naive").auc.ci_low > 0.5  # the boosted trees memorised members


def test_a_table_with_a_text_column_is_audited_by_every_attack(tmp_path):
    """A table with a text column (``region``, which sets the class) and a pipeline that one-hot encodes it:
    QMIA reads the region as categories and the label-only query attacks move the numbers only, so nothing
    is skipped; HAMP gets the model's answers on random rows of the table; the test accuracy is the model's
    own score on the table."""
    regions = np.array(["north", "south", "east"])
    paths, frames = {}, {}
    for part, (x, y, ids) in tabular_parts().items():
        frames[part] = pd.DataFrame(x[:, :3], columns=FEATURES[:3]).assign(region=regions[y], label=y, id=ids)
        paths[part] = str(tmp_path / f"{part}.csv")
        frames[part].to_csv(paths[part], index=False)
    columns = [*FEATURES[:3], "region"]
    encode = ColumnTransformer([("region", OneHotEncoder(), ["region"])], remainder="passthrough")
    model = make_pipeline(encode, RandomForestClassifier(n_estimators=30, random_state=0))
    model.fit(frames["members"][columns], frames["members"].label)
    joblib.dump(model, tmp_path / "pipeline.joblib")
    attacks = ["loss", "lira_offline", "qmia", "augmentation", "boundary"]
    audit = config(
        tmp_path,
        data={"kind": "table", "id": "id", **paths},
        target={"kind": "sklearn", "path": str(tmp_path / "pipeline.joblib"), "trust_pickle": True},
        attacks=attacks,
        defenses=[{"name": "hamp"}],
    )
    result = run_audit(audit)
    assert result.attacks == attacks and not result.baseline.skipped
    assert [e.condition for e in result.evaluations] == ["undefended", "hamp"]
    test = frames["test"]
    assert result.baseline.test_accuracy.value == pytest.approx(
        model.score(test[columns], test.label), abs=1e-12
    )
    for attack in ("loss", "qmia"):  # the forest memorised its members
        assert result.baseline.outcome(attack, "naive").auc.ci_low > 0.5, attack


VOCAB, TOKENS = 200, 12  # token ids and tokens per record of the text-classifier tests
TOKEN_FACTORY = {
    "architecture": "tests.audit_core.models:TokenMean",
    "architecture_kwargs": {"vocab": VOCAB, "n_classes": N_CLASSES},
}


def token_parts() -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``part -> (token ids (n, TOKENS) int64, labels, ids)``: half of each record's tokens drawn from its
    class's topic, half uniformly, so a small training set is memorised."""
    topics = np.random.default_rng(98).dirichlet(np.full(VOCAB, 0.1), size=N_CLASSES)
    parts = {}
    for seed, (part, (_, y, ids)) in enumerate(tabular_parts().items()):
        rng = np.random.default_rng(seed)
        chances = 0.5 * topics[y] + 0.5 / VOCAB
        tokens = np.array([rng.choice(VOCAB, size=TOKENS, p=row) for row in chances], dtype=np.int64)
        parts[part] = (tokens, y, ids)
    return parts


@pytest.fixture(scope="module")
def token_model():
    """The text classifier: :class:`~tests.audit_core.models.TokenMean` that memorised the members."""
    torch.manual_seed(0)
    module = TokenMean(VOCAB, N_CLASSES)
    x, y, _ = token_parts()["members"]
    optimiser = torch.optim.Adam(module.parameters(), lr=0.01)
    for _ in range(300):
        optimiser.zero_grad()
        nn.functional.cross_entropy(module(torch.as_tensor(x)), torch.as_tensor(y)).backward()
        optimiser.step()
    return module.eval()


def _token_audit(tmp_path: Path, module, kind: str, records: dict | None = None, **target) -> AuditConfig:
    """An audit of ``module`` saved as ``kind`` on npz archives of token ids (or of ``records``)."""
    paths = {}
    for part, (x, y, ids) in token_parts().items():
        np.savez(tmp_path / f"{part}.npz", x=(records or {}).get(part, x), y=y, ids=ids)
        paths[part] = str(tmp_path / f"{part}.npz")
    if kind == "onnx":
        torch.onnx.export(
            module, (torch.zeros(2, TOKENS, dtype=torch.int64),), str(tmp_path / "m.onnx"), input_names=["x"],
            dynamic_axes={"x": {0: "n"}}, dynamo=False,
        )  # fmt: skip
        target = {"kind": "onnx", "path": str(tmp_path / "m.onnx"), **target}
    else:
        save_file(module.state_dict(), tmp_path / "m.safetensors")
        target = {"kind": kind, "weights": str(tmp_path / "m.safetensors"), **TOKEN_FACTORY, **target}
    attacks = ["loss", "lira_offline", "rmia", "augmentation", "boundary"]
    data = {"kind": "npz", "ids_key": "ids", **paths}
    return config(tmp_path, data=data, target=target, attacks=attacks, defenses=[{"name": "hamp"}])


@pytest.mark.parametrize(
    ("kind", "target"), [("torch_state_dict", {"input_dtype": "int64"}), ("onnx", {})], ids=["torch", "onnx"]
)
def test_a_text_classifier_on_token_ids_is_audited_on_whole_numbers(tmp_path, token_model, kind, target):
    """A network whose first layer is an embedding takes int64 token ids (a torch target with
    ``input_dtype: int64``, an ONNX graph with an int64 input): it is asked about exactly the records, its
    own architecture trains as references (torch), HAMP's random inputs are whole token ids, and the
    label-only query attacks, which move records by small amounts, are skipped and say why."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        audit = _token_audit(tmp_path, token_model, kind, **target)
        result = run_audit(audit)
    x, y, _ = token_parts()["test"]
    with torch.no_grad():
        accuracy = float((token_model(torch.as_tensor(x)).argmax(1).numpy() == y).mean())
    assert result.baseline.test_accuracy.value == pytest.approx(accuracy, abs=1e-12)
    assert set(result.baseline.skipped) == {"augmentation", "boundary"}
    assert all("takes whole numbers" in reason for reason in result.baseline.skipped.values())
    assert result.baseline.outcome("loss", "naive").auc.ci_low > 0.5  # the members are memorised
    assert result.baseline.outcome("lira_offline", "naive").auc.ci_low > 0.5


def test_a_text_classifier_without_input_dtype_or_with_fractional_records_is_one_sentence(
    tmp_path, token_model
):
    """Token ids sent as float32 (``input_dtype`` left out) fail in the embedding: the sentence says to set
    ``input_dtype: int64``. Records that are not whole numbers are refused before the model sees them."""
    with pytest.raises(TargetError, match=r"set target.input_dtype: int64 for records of token ids"):
        check_inputs(_token_audit(tmp_path, token_model, "torch_state_dict"))
    x, *_ = token_parts()["test"]
    halves = {"test": x + 0.5}
    audit = _token_audit(tmp_path, token_model, "torch_state_dict", halves, input_dtype="int64")
    with pytest.raises(TargetError, match=r"takes integer inputs, but a record holds \d+\.5; expected whole"):
        check_inputs(audit)


def test_a_classifier_that_releases_its_label_alone_is_audited_by_its_labels(tmp_path):
    """A hard-voting ensemble has predict alone (no predict_proba, no decision_function): it answers its label
    at probability 1, its clones are the references, the label-only query attack runs through it, and the
    manifest and the report say the answers are one-hot; a model with probabilities is not read so."""
    x, y, _ = tabular_parts()["members"]
    members = (LogisticRegression(C=100.0, max_iter=2000), RandomForestClassifier(20, random_state=0))
    model = VotingClassifier([("lr", members[0]), ("forest", members[1])], voting="hard").fit(x, y)
    assert not hasattr(model, "predict_proba") and not hasattr(model, "decision_function")
    sio.dump(model, tmp_path / "vote.skops")
    data = {"kind": "npz", "ids_key": "ids", **write_npz(tmp_path)}
    audit = config(
        tmp_path,
        data=data,
        target={"kind": "sklearn", "path": str(tmp_path / "vote.skops")},
        attacks=["loss", "lira_online", "label_only", "boundary"],
        knowledge=["adaptive"],
    )
    result = run_audit(audit)
    assert result.provenance["one_hot_answers"] is True
    assert result.attacks == ["loss", "lira_online", "label_only", "boundary"]
    x_test, y_test, _ = tabular_parts()["test"]
    accuracy = result.baseline.test_accuracy.value
    assert accuracy == pytest.approx(float((model.predict(x_test) == y_test).mean()), abs=1e-12)
    run_dir = write_run_folder(audit, result, [])
    assert json.loads((run_dir / "manifest.json").read_text())["one_hot_answers"] is True
    report = " ".join((run_dir / "report.html").read_text().split())
    assert "It answered every audited and test record with one class at probability 1" in report

    sio.dump(LogisticRegression(max_iter=500).fit(x, y), tmp_path / "lr.skops")
    with_probabilities = run_audit(
        config(
            tmp_path,
            data=data,
            target={"kind": "sklearn", "path": str(tmp_path / "lr.skops")},
            attacks=["loss"],
            defenses=[],
            reference_models=0,
        )
    )
    assert with_probabilities.provenance["one_hot_answers"] is False

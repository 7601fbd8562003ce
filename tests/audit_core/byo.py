"""Real files in real formats for the bring-your-own-model tests: data, tiny trained models, audits."""

import pickle
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import skops.io as sio
import torch
from PIL import Image
from sklearn.linear_model import LogisticRegression
from torch import nn

from audit_core.audit.inputs import check_inputs
from audit_core.audit.run import run_audit as run_plain_audit
from audit_core.config import AuditConfig, parse_config
from audit_core.config.references import AUTO_KINDS
from audit_core.results.tables import AuditResult
from audit_core.training.references import complementary_in_masks
from tests.audit_core.models import mlp

N_CLASSES, N_FEATURES = 3, 8
SIZES = {"members": 60, "non_members": 60, "population": 240, "test": 90}
FEATURES = [f"f{i}" for i in range(N_FEATURES)]
# small and quick: the shadow model of every test audit
RECIPE = {"hidden_sizes": [32], "epochs": 60, "batch_size": 32, "learning_rate": 0.01}


def blobs(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Overlapping Gaussian class blobs: a small training set is memorised, not generalised."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).normal(0.0, 1.0, size=(N_CLASSES, N_FEATURES))
    labels = rng.integers(0, N_CLASSES, size=n)
    return (centres[labels] + rng.normal(0.0, 1.5, size=(n, N_FEATURES))).astype(np.float32), labels


def tabular_parts() -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``part -> (features, labels, ids)`` with globally unique ids ``r<number>``."""
    parts, start = {}, 0
    for seed, (part, n) in enumerate(SIZES.items()):
        x, y = blobs(n, seed)
        parts[part] = (x, y, np.array([f"r{start + i}" for i in range(n)]))
        start += n
    return parts


def write_tables(folder: Path, suffix: str) -> dict[str, str]:
    """One table per part (``f0..f7``, ``label``, ``id``); returns the data config's part paths."""
    paths = {}
    for part, (x, y, ids) in tabular_parts().items():
        frame = pd.DataFrame(x, columns=FEATURES).assign(label=y, id=ids)
        path = folder / f"{part}{suffix}"
        frame.to_parquet(path) if suffix == ".parquet" else frame.to_csv(path, index=False)
        paths[part] = str(path)
    return paths


def skops_on_tables(folder: Path, run_name: str, fit_labels: Callable = lambda y: y) -> dict:
    """The raw config of a logistic regression fitted on the members' ``fit_labels(labels)``, saved with
    skops and audited on Parquet tables with four reference models; files, runs and cache under ``folder``."""
    x, y, _ = tabular_parts()["members"]
    sio.dump(LogisticRegression(max_iter=500).fit(x, fit_labels(y)), folder / "model.skops")
    return {
        "run_name": run_name,
        "data": {"kind": "table", "id": "id", **write_tables(folder, ".parquet")},
        "target": {"kind": "sklearn", "path": str(folder / "model.skops")},
        "reference_models": 4,
        "output_dir": str(folder / "out"),
        "cache_dir": str(folder / "cache"),
    }


def write_npz(folder: Path) -> dict[str, str]:
    """One ``.npz`` per part with arrays ``x``, ``y`` and ``ids``."""
    paths = {}
    for part, (x, y, ids) in tabular_parts().items():
        np.savez(folder / f"{part}.npz", x=x, y=y, ids=ids)
        paths[part] = str(folder / f"{part}.npz")
    return paths


def train_torch(
    module: nn.Module, x: np.ndarray, y: np.ndarray, *, epochs: int = 300, seed: int = 0
) -> nn.Module:
    """Full-batch Adam until the training set is memorised."""
    torch.manual_seed(seed)
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            layer.reset_parameters()
    optimiser = torch.optim.Adam(module.parameters(), lr=0.01)
    inputs, targets = torch.as_tensor(x), torch.as_tensor(y, dtype=torch.int64)
    for _ in range(epochs):
        optimiser.zero_grad()
        nn.functional.cross_entropy(module(inputs), targets).backward()
        optimiser.step()
    return module.eval()


def member_mlp() -> nn.Module:
    """The test target: an MLP that memorised the tabular members."""
    x, y, _ = tabular_parts()["members"]
    return train_torch(mlp(N_FEATURES, N_CLASSES), x, y)


def class_images(n: int, seed: int, size: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """``(n, size, size, 3)`` uint8 images whose colour depends on the class, and their labels."""
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % N_CLASSES)
    colours = np.array([[200, 40, 40], [40, 200, 40], [40, 40, 200]])
    pixels = colours[labels][:, None, None, :] + rng.normal(0, 60, size=(n, size, size, 3))
    return np.clip(pixels, 0, 255).astype(np.uint8), labels


def write_image_folder(root: Path, images: np.ndarray, labels: np.ndarray, classes: list[str]) -> Path:
    """``root/<class>/<i>.png`` for every image (every class gets a folder, even an empty one)."""
    for name in classes:
        (root / name).mkdir(parents=True, exist_ok=True)
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        Image.fromarray(image).save(root / classes[label] / f"{i:04d}.png")
    return root


def write_cifar_batches(folder: Path, n_per_batch: int = 40) -> Path:
    """``data_batch_1..5`` and ``test_batch`` in CIFAR-10's python format: dicts of bytes keys, a uint8
    ``(n, 3072)`` array in channel-major order and a list of int labels, pickled with protocol 2."""
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for seed, name in enumerate(names):
        images, labels = class_images(n_per_batch, seed, size=32)
        batch = {
            b"batch_label": name.encode(),
            b"labels": [int(v) for v in labels],
            b"data": images.transpose(0, 3, 1, 2).reshape(n_per_batch, 3072),
            b"filenames": [f"{name}_{i}.png".encode() for i in range(n_per_batch)],
        }
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    return folder


def chosen_models(fields: dict) -> dict:
    """For a target whose training dynaudit cannot know (``auto`` refuses it), the shadow and references of
    dynaudit's recipe, chosen on purpose as a user would; nothing for the others."""
    if fields.get("target", {}).get("kind", "trained") in AUTO_KINDS:
        return {}
    return {"shadow": {"kind": "trained"}, "references": {"kind": "recipe"}}


def write_reference_predictions(
    path: Path, n_models: int = 4, *, edit: Callable[[pd.DataFrame], pd.DataFrame] | None = None
) -> str:
    """A ``references.kind: predictions`` table as a user would compute it elsewhere: ``n_models`` logistic
    regressions on complementary halves of the audit points, their log-probabilities on the audit points
    and the population (columns model, id, in_training, c0..c2), changed by ``edit``."""
    parts = tabular_parts()
    audit = [np.concatenate([parts[p][i] for p in ("members", "non_members")]) for i in range(3)]
    population = parts["population"]
    masks = complementary_in_masks(len(audit[2]), n_models, np.random.default_rng(3))
    frames = []
    for model, mask in enumerate(masks):
        fitted = LogisticRegression(max_iter=500).fit(audit[0][mask], audit[1][mask])
        for (x, _, ids), in_training in ((audit, mask), (population, np.zeros(len(population[2]), bool))):
            logits = np.log(fitted.predict_proba(x))
            frame = pd.DataFrame(logits, columns=["c0", "c1", "c2"])
            frames.append(frame.assign(model=model, id=ids, in_training=in_training))
    table = pd.concat(frames, ignore_index=True)
    (table if edit is None else edit(table)).to_parquet(path)
    return str(path)


def config(tmp_path: Path, **fields) -> AuditConfig:
    """An AuditConfig for a quick test audit writing under ``tmp_path``: the full attack battery, with four
    reference models, no model cache and at most four averaged queries (and :func:`chosen_models`)."""
    raw = {
        **chosen_models(fields),
        "run_name": "byo",
        "output_dir": str(tmp_path / "out"),
        "recipe": RECIPE,
        "cache_dir": None,
        "reference_models": 4,
        "max_queries": 4,
        **fields,
    }
    return parse_config(raw, source="test config")


def run_audit(config: AuditConfig) -> AuditResult:
    """The audit flow's steps without Prefect, after the CLI's input check."""
    check_inputs(config)
    return run_plain_audit(config).result

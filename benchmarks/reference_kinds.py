"""Reference models of the target's own kind against dynaudit's recipe network, side by side in one run.

    PYTHONPATH=. .venv/bin/python benchmarks/reference_kinds.py               # R = 16 and 64
    PYTHONPATH=. .venv/bin/python benchmarks/reference_kinds.py --sizes 16    # a quicker look

Three user targets trained on the members of scikit-learn's breast cancer data (200 members, 200
non-members, every audit point scored): a RandomForest and an MLP pipeline from scikit-learn (references:
``clone``) and a torch network of the user's own architecture saved as a state dict (references:
``architecture``). Each is audited undefended with ``recipe`` references and with references of its own
kind; the table gives LiRA online/offline and RMIA AUC and TPR at 1% FPR, and the wall time of training the
references (no model cache).
"""

import argparse
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import skops.io as sio
import torch
from sklearn.ensemble import RandomForestClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

from audit_core.audit.evaluation import score_condition
from audit_core.audit.inputs import load_audit_data
from audit_core.audit.models import build_target, train_references
from audit_core.audit.signals import Signals, reference_logits, target_signals
from audit_core.config import AuditConfig, parse_config
from audit_core.defenses import Undefended
from audit_core.stats.metrics import roc_auc, tpr_at_fpr
from audit_core.training import train_classifier

DATA = {
    "kind": "demo",
    "dataset": "breast_cancer",
    "n_members": 200,
    "n_non_members": 200,
    "n_population": 120,
}
ATTACKS = ["lira_online", "lira_offline", "rmia"]


def user_network(n_features: int = 30, n_classes: int = 2) -> nn.Module:
    """The torch target's own architecture: two tanh layers, unlike the recipe's one-layer ReLU MLP."""
    return nn.Sequential(
        nn.Linear(n_features, 128), nn.Tanh(), nn.Linear(128, 128), nn.Tanh(), nn.Linear(128, n_classes)
    )


def _sklearn_target(model: object) -> Callable[[AuditConfig, Path], dict]:
    def save(config: AuditConfig, folder: Path) -> dict:
        data = load_audit_data(config)
        sio.dump(model.fit(data.members.features, data.members.labels), folder / "model.skops")
        return {"kind": "sklearn", "path": str(folder / "model.skops")}

    return save


def _torch_target(config: AuditConfig, folder: Path) -> dict:
    data = load_audit_data(config)
    module = train_classifier(
        data.members.features, data.members.labels, 2, config.recipe, seed=0, build=user_network
    )
    torch.save(module.state_dict(), folder / "weights.pt")
    return {
        "kind": "torch_state_dict",
        "weights": str(folder / "weights.pt"),
        "architecture": "benchmarks.reference_kinds:user_network",
    }


TARGETS = {
    "RandomForest (sklearn)": (
        _sklearn_target(RandomForestClassifier(n_estimators=100, random_state=0)),
        "clone",
    ),
    "MLP (sklearn)": (
        _sklearn_target(make_pipeline(StandardScaler(), MLPClassifier((64,), max_iter=500, random_state=0))),
        "clone",
    ),
    "torch state dict": (_torch_target, "architecture"),
}


def reference_signals(config: AuditConfig) -> tuple[Signals, float]:
    """The target's signals with its reference models' outputs, and the seconds the references took to
    train."""
    data = load_audit_data(config)
    signals = target_signals(build_target(config, data), data)
    start = time.perf_counter()
    references, in_mask, _ = train_references(config, data, {"data": data.fingerprint()})
    seconds = time.perf_counter() - start
    return signals.with_models(None, reference_logits(references, in_mask, data)), seconds


def attack_results(
    signals: Signals, attacks: list[str], seed: int, attack_params: dict | None = None
) -> dict[str, tuple[float, float]]:
    """``attack -> (AUC, TPR at 1% FPR)``, undefended, against the naive attacker."""
    scores = score_condition(
        signals, Undefended(), attacks, seed=seed, knowledge=["naive"], attack_params=attack_params or {}
    )
    return {
        s.attack: (
            roc_auc(s.scores, signals.is_member, n_bootstrap=0).value,
            tpr_at_fpr(s.scores, signals.is_member, 0.01).tpr.value,
        )
        for s in scores.scores
    }


def audited_targets(
    sizes: list[int], attacks: list[str], prefix: str
) -> Iterator[tuple[str, str, int, AuditConfig, Signals, float]]:
    """Each target with ``R`` of each size of the recipe's references and of its own kind's: ``(target,
    references kind, R, config, signals with the references' outputs, seconds of reference training)``."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    base = {"cache_dir": None, "data": DATA, "shadow": {"kind": "none"}, "attacks": attacks, "defenses": []}
    for name, (save, own_kind) in TARGETS.items():
        target = save(parse_config(base), folder)
        for size in sizes:
            for kind in ("recipe", own_kind):
                config = parse_config(
                    {**base, "target": target, "references": {"kind": kind}, "reference_models": size}
                )
                yield name, kind, size, config, *reference_signals(config)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[16, 64], help="numbers of reference models")
    args = parser.parse_args()
    torch.set_num_threads(1)
    columns = " | ".join(f"{a} AUC / TPR@1%FPR" for a in ATTACKS)
    print(f"| target | references | R | {columns} | training s |")
    print("|---|---|---|---|---|---|---|")
    for name, kind, size, config, signals, seconds in audited_targets(
        args.sizes, ATTACKS, "reference-kinds-"
    ):
        results = attack_results(signals, ATTACKS, config.seed)
        cells = " | ".join(f"{results[a][0]:.3f} / {results[a][1]:.3f}" for a in ATTACKS)
        print(f"| {name} | {kind} | {size} | {cells} | {seconds:.1f} |", flush=True)


if __name__ == "__main__":
    main()

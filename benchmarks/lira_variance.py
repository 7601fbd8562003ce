"""LiRA's spread per record, one global spread, and the one chosen on the references, side by side.

    PYTHONPATH=. .venv/bin/python benchmarks/lira_variance.py               # R = 8 and 16
    PYTHONPATH=. .venv/bin/python benchmarks/lira_variance.py --sizes 8     # a quicker look
    PYTHONPATH=. .venv/bin/python benchmarks/lira_variance.py --config audit.yaml   # your audit's references

On the targets and data of ``benchmarks/reference_kinds.py`` (breast cancer, 200 members / 200 non-members,
undefended, naive attacker), each with the recipe's references and with references of its own kind, online
and offline LiRA score the same references three ways: ``fixed_variance: false`` (each record's spread over
its IN and OUT references), ``true`` (one spread over all of them) and the default, which takes whichever of
the two attacks reference model 0 at the higher AUC with the others. Each row gives AUC / TPR at 1% FPR; the
last lines give each way's mean AUC over the rows and how often the chosen one has the row's higher AUC.
With ``--config``, the rows are those of one audit config's own target and references (from its model cache
where it has one), relative paths read from the config's folder.
"""

import argparse
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from audit_core.audit.signals import Signals
from audit_core.config import AuditConfig, load_config
from benchmarks.reference_kinds import attack_results, audited_targets, reference_signals

ATTACKS = ["lira_online", "lira_offline"]
WAYS = {"per record": False, "global": True, "chosen": None}


def configured(path: Path) -> Iterator[tuple[str, str, int, AuditConfig, Signals, float]]:
    """The one audit of the config at ``path``, as :func:`audited_targets` gives its rows."""
    os.chdir(path.resolve().parent)
    config = load_config(Path(path.name))
    yield str(path), config.references.kind, config.reference_models, config, *reference_signals(config)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 16], help="numbers of reference models")
    parser.add_argument("--config", type=Path, help="an audit config whose own references to score instead")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print("| target | references | R | attack | " + " | ".join(WAYS) + " |")
    print("|---|---|---|---|---|---|---|")
    aucs = {way: [] for way in WAYS}
    audits = (
        configured(args.config) if args.config else audited_targets(args.sizes, ATTACKS, "lira-variance-")
    )
    for name, kind, size, config, signals, _ in audits:
        results = {
            way: attack_results(
                signals, ATTACKS, config.seed, {a: {"fixed_variance": fixed} for a in ATTACKS}
            )
            for way, fixed in WAYS.items()
        }
        for attack in ATTACKS:
            cells = " | ".join(f"{results[w][attack][0]:.3f} / {results[w][attack][1]:.3f}" for w in WAYS)
            print(f"| {name} | {kind} | {size} | {attack} | {cells} |", flush=True)
            for way in WAYS:
                aucs[way].append(results[way][attack][0])
    print("\n" + ", ".join(f"{way}: mean AUC {np.mean(values):.4f}" for way, values in aucs.items()))
    best = np.maximum(aucs["per record"], aucs["global"])
    picked = np.isclose(aucs["chosen"], best)
    shortfall = float(np.max(best - np.array(aucs["chosen"])))
    print(
        f"chosen has the higher AUC in {picked.sum()} of {len(best)} rows; at most {shortfall:.3f} below it"
    )


if __name__ == "__main__":
    main()

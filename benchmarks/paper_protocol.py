"""The DynaNoise paper's evaluation, reproduced and taken past it (docs/paper-reproduction.md).

    .venv/bin/python benchmarks/paper_protocol.py digits        # built in: about 3 minutes on 2 cores
    .venv/bin/python benchmarks/paper_protocol.py synthetic     # built in: about 6 minutes
    .venv/bin/python benchmarks/paper_protocol.py cifar10 ~/data/cifar-10-batches-py
    .venv/bin/python benchmarks/paper_protocol.py imagenet10 ~/data/imagenet-10

Prints the paper's table (test accuracy, the six attacks' success under the paper's non-adaptive attacker,
MIDPUT) and the same defenses under an adaptive attacker (AUC and TPR at 1% FPR), and writes both as Parquet
to ``--out/<dataset>/`` with ``protocol.json`` (settings, sizes, the tuned setting, package versions).
"""

import argparse
import json
import math
import time
from dataclasses import asdict
from pathlib import Path

import pandas as pd
import torch

from audit_core.artifacts import write_parquet, write_text_atomic
from audit_core.config import KNOWLEDGE_MODES
from audit_core.paper_protocol import (
    ADAPTIVE_ATTACKS,
    DATASETS,
    IMAGE_SETS,
    PAPER_ATTACKS,
    ProtocolResult,
    ProtocolSettings,
    run_protocol,
)
from audit_core.pipeline import package_versions
from audit_core.tuning import OBJECTIVES

SHORT = {"modified_entropy": "m-entropy", "lira_online": "LiRA (Carlini)", "rmia": "RMIA"}


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def markdown(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table."""
    return "\n".join([_row(header), _row(["---"] * len(header)), *(_row(r) for r in rows)])


def paper_markdown(table: pd.DataFrame) -> str:
    """The paper's layout, four decimals as in its tables."""
    header = ["defense", "accuracy", *(SHORT.get(c, c) for c in PAPER_ATTACKS), "MIDPUT"]
    columns = ["accuracy", *PAPER_ATTACKS, "midput"]
    return markdown(
        header, [[r.defense, *(f"{getattr(r, c):.4f}" for c in columns)] for r in table.itertuples()]
    )


def adaptive_markdown(table: pd.DataFrame, max_queries: int) -> str:
    """Per attack ``AUC / TPR@1%FPR``; the strongest attack's AUC with its 95% interval; averaging."""
    header = [
        "defense",
        "accuracy",
        *(SHORT.get(c, c) for c in ADAPTIVE_ATTACKS),
        "strongest AUC [95% CI]",
        "strongest TPR@1%FPR",
        f"strongest AUC, averaging up to {max_queries} queries",
    ]
    rows = []
    for r in table.to_dict("records"):
        cells = [f"{r[f'{c}_auc']:.3f} / {r[f'{c}_tpr_at_1pct_fpr']:.3f}" for c in ADAPTIVE_ATTACKS]
        strongest = f"{r['strongest_auc']:.3f} [{r['strongest_auc_low']:.3f}, {r['strongest_auc_high']:.3f}]"
        averaging = f"{r['averaging_strongest_auc']:.3f} ({r['averaging_queries']} queries)"
        tpr = f"{r['strongest_tpr_at_1pct_fpr']:.3f}"
        rows.append([r["defense"], f"{r['accuracy']:.4f}", *cells, strongest, tpr, averaging])
    return markdown(header, rows)


def asr_margin(members: int, non_members: int) -> float:
    """The 95% half-width of a balanced accuracy near 0.5 measured on these many members and non-members."""
    return 1.96 * 0.25 * math.sqrt(1 / members + 1 / non_members)


def report(result: ProtocolResult, settings: ProtocolSettings, seconds: float) -> str:
    """Both tables with the sizes they were measured on, the conditions' parameters and the tuned setting."""
    n, tuning = result.evaluated, result.tuning
    params = ", ".join(f"{k}={v:g}" for k, v in tuning["params"].items())
    lines = [
        f"## {settings.dataset}: paper split {asdict(result.split)}",
        f"Evaluated on {n['members']} members, {n['non_members']} non-members and {n['test']} test records "
        "(the tuner's evaluation split).",
        f"95% margins: an attack success rate near 0.5 +-{asr_margin(n['members'], n['non_members']):.3f}, "
        f"an accuracy at most +-{1.96 * math.sqrt(0.25 / n['test']):.3f}.",
        "",
        "### The paper's protocol: non-adaptive attacker, attack success rate (balanced accuracy)",
        paper_markdown(result.paper),
        "",
        "### Adaptive attacker (calibrated on defended outputs): AUC / TPR at 1% FPR",
        adaptive_markdown(result.adaptive, settings.max_queries),
        "",
        "Conditions:",
        *(f"- {r.defense}: `{r.condition}`" for r in result.paper.itertuples()),
        "",
        f"DynaNoise (tuned): {params}; {tuning['objective']} under the {tuning['knowledge']} attacker, "
        f"{tuning['n_trials']} trials, accuracy budget {tuning['budget']:g} on the tuning split.",
        f"Wall time {seconds / 60:.1f} min (torch threads: {torch.get_num_threads()}).",
    ]
    return "\n".join(lines)


def write_outputs(result: ProtocolResult, settings: ProtocolSettings, folder: Path, seconds: float) -> None:
    """``paper_table.parquet``, ``adaptive_table.parquet`` and ``protocol.json`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    write_parquet(result.paper, folder / "paper_table.parquet", "paper_table")
    write_parquet(result.adaptive, folder / "adaptive_table.parquet", "adaptive_table")
    provenance = {
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(settings).items()},
        "split": asdict(result.split),
        "evaluated": result.evaluated,
        "tuning": result.tuning,
        "seconds": round(seconds, 1),
        "versions": package_versions(),
    }
    write_text_atomic(folder / "protocol.json", json.dumps(provenance, indent=2) + "\n")


def parse_settings(argv: list[str] | None = None) -> tuple[ProtocolSettings, Path]:
    """The command line as settings, and the output folder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", choices=DATASETS)
    parser.add_argument("root", nargs="?", type=Path, help="local folder of cifar10 / imagenet10")
    parser.add_argument("--epochs", type=int, help="training epochs (default: 300 MLP, 30 CNN)")
    parser.add_argument("--pool-size", type=int, default=10_000, help="image sets: training-pool records")
    parser.add_argument("--test-size", type=int, default=2_000, help="image sets: test records")
    parser.add_argument("--image-size", type=int, default=32, help="imagenet10: image side after resizing")
    parser.add_argument("--reference-models", type=int, default=8, help="for LiRA (Carlini) and RMIA")
    parser.add_argument("--max-queries", type=int, default=64, help="the averaging attacker's budget")
    parser.add_argument("--trials", type=int, default=50, help="the tuner's Optuna trials")
    parser.add_argument("--budget", type=float, default=0.01, help="the tuner's accuracy budget")
    parser.add_argument("--objective", choices=OBJECTIVES, default="midput", help="the tuner's objective")
    parser.add_argument(
        "--tune-knowledge",
        choices=KNOWLEDGE_MODES,
        default="adaptive",
        help="the attacker the tuner measures",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache-dir", type=Path, help="cache trained shadow/reference models here")
    parser.add_argument("--out", type=Path, default=Path("out/paper_protocol"))
    args = parser.parse_args(argv)
    if (args.dataset in IMAGE_SETS) != (args.root is not None):
        parser.error(f"give a ROOT folder for {' and '.join(IMAGE_SETS)}, and only for them")
    settings = ProtocolSettings(
        dataset=args.dataset,
        root=args.root,
        epochs=args.epochs,
        pool_size=args.pool_size,
        test_size=args.test_size,
        image_size=args.image_size,
        reference_models=args.reference_models,
        max_queries=args.max_queries,
        tune_trials=args.trials,
        budget=args.budget,
        objective=args.objective,
        tune_knowledge=args.tune_knowledge,
        seed=args.seed,
        cache_dir=args.cache_dir,
    )
    return settings, args.out / args.dataset


def main(argv: list[str] | None = None) -> ProtocolResult:
    """Run the protocol, print both tables, write the outputs; returns the result."""
    torch.set_num_threads(1)
    settings, folder = parse_settings(argv)
    start = time.perf_counter()
    result = run_protocol(settings)
    seconds = time.perf_counter() - start
    write_outputs(result, settings, folder, seconds)
    print(report(result, settings, seconds))
    print(f"Written to {folder}/")
    return result


if __name__ == "__main__":
    main()

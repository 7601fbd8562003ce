"""The DynaNoise paper's evaluation, reproduced and taken past it (docs/paper-reproduction.md).

    .venv/bin/python benchmarks/paper_protocol.py digits        # built in, 3 seeds: 2 min CPU
    .venv/bin/python benchmarks/paper_protocol.py synthetic     # built in, 3 seeds: 4 min CPU
    .venv/bin/python benchmarks/paper_protocol.py synthetic --canaries 50   # + the canary table
    .venv/bin/python benchmarks/paper_protocol.py cifar10 ~/data/cifar-10-batches-py
    .venv/bin/python benchmarks/paper_protocol.py imagenet10 ~/data/imagenet-10

Prints the paper's table (test accuracy, the six attacks' success under the paper's non-adaptive attacker,
MIDPUT) and the same defenses under an adaptive attacker (AUC and TPR at 1% FPR), with ``--canaries N`` the
strongest adaptive attack on N planted mislabelled members (and N held out) beside the average case, and
writes the tables as Parquet to ``--out/<dataset>/`` with ``protocol.json`` (settings, sizes, the tuned
setting, package versions).
"""

import argparse
import json
import math
import time
from dataclasses import asdict, replace
from pathlib import Path

import pandas as pd
import torch

from audit_core.core.files import write_text_atomic
from audit_core.core.knowledge import Knowledge
from audit_core.results.artifacts import write_parquet
from audit_core.results.provenance import package_versions
from audit_core.tuning.search import OBJECTIVES
from experiments.paper_protocol import (
    ADAPTIVE_ATTACKS,
    DATASETS,
    IMAGE_SETS,
    PAPER_ATTACKS,
    ProtocolResult,
    ProtocolSettings,
    run_protocol,
)

SHORT = {"modified_entropy": "m-entropy", "lira_online": "LiRA (Carlini)", "rmia": "RMIA"}
TUNED = "DynaNoise (tuned)"
BUILT_IN_REPEATS = 3  # seeds per built-in data set (each seed: new split, models, noise); image sets: 1


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def markdown(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table."""
    return "\n".join([_row(header), _row(["---"] * len(header)), *(_row(r) for r in rows)])


def per_seed(results: dict[int, ProtocolResult], table: str) -> pd.DataFrame:
    """One table's rows of every seed, with a leading ``seed`` column."""
    frames = [getattr(r, table).assign(seed=seed) for seed, r in results.items()]
    combined = pd.concat(frames, ignore_index=True)
    return combined[["seed", *combined.columns.drop("seed")]]


def mean_and_sd(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per defense (in table order), the mean and the standard deviation over seeds of every number."""
    numbers = table.drop(columns=["seed", "condition", "strongest_attack"], errors="ignore")
    grouped = numbers.groupby("defense", sort=False)
    return grouped.mean(), grouped.std(ddof=1)


def cell(mean: float, sd: float, digits: int) -> str:
    """``mean ± sd``, or the mean alone when there is one seed (sd is NaN)."""
    return f"{mean:.{digits}f}" + ("" if math.isnan(sd) else f" ± {sd:.{digits}f}")


def paper_markdown(table: pd.DataFrame) -> str:
    """The paper's layout, four decimals as in its tables."""
    mean, sd = mean_and_sd(table)
    header = ["defense", "accuracy", *(SHORT.get(c, c) for c in PAPER_ATTACKS), "MIDPUT"]
    columns = ["accuracy", *PAPER_ATTACKS, "midput"]
    rows = [[d, *(cell(mean.at[d, c], sd.at[d, c], 4) for c in columns)] for d in mean.index]
    return markdown(header, rows)


def strongest_cell(table: pd.DataFrame, defense: str, mean: pd.DataFrame, sd: pd.DataFrame) -> str:
    """The strongest attack's AUC: mean ± sd over seeds, or with its 95% bootstrap interval for one seed."""
    if len(table) == len(mean):
        row = table.set_index("defense").loc[defense]
        return f"{row.strongest_auc:.3f} [{row.strongest_auc_low:.3f}, {row.strongest_auc_high:.3f}]"
    return cell(mean.at[defense, "strongest_auc"], sd.at[defense, "strongest_auc"], 3)


def adaptive_markdown(table: pd.DataFrame, max_queries: int) -> str:
    """Per attack ``AUC / TPR@1%FPR`` (means); the strongest attack's AUC and TPR; the averaging attacker."""
    mean, sd = mean_and_sd(table)
    header = [
        "defense",
        "accuracy",
        *(SHORT.get(c, c) for c in ADAPTIVE_ATTACKS),
        "strongest AUC",
        "strongest TPR@1%FPR",
        f"strongest AUC, averaging up to {max_queries} queries",
    ]
    rows = []
    for d in mean.index:
        m = mean.loc[d]
        attacks = [f"{m[f'{c}_auc']:.3f} / {m[f'{c}_tpr_at_1pct_fpr']:.3f}" for c in ADAPTIVE_ATTACKS]
        tpr = cell(m.strongest_tpr_at_1pct_fpr, sd.at[d, "strongest_tpr_at_1pct_fpr"], 3)
        averaging = cell(m.averaging_strongest_auc, sd.at[d, "averaging_strongest_auc"], 3)
        averaging += f" ({m.averaging_queries:.0f} {'query' if m.averaging_queries == 1 else 'queries'})"
        rows.append([d, f"{m.accuracy:.4f}", *attacks, strongest_cell(table, d, mean, sd), tpr, averaging])
    return markdown(header, rows)


def canary_markdown(table: pd.DataFrame) -> str:
    """Per defense, the strongest adaptive attack on every audited record and on the canaries alone (means
    seeds; the attack named is the strongest of the first seed)."""
    numbers = table.drop(columns=["seed", "condition"]).groupby("defense", sort=False)
    mean, first = numbers.mean(numeric_only=True), numbers.first()
    header = ["defense", "average: AUC", "average: TPR@1%FPR", "canaries: AUC", "canaries: TPR@1%FPR"]
    rows = [
        [
            d,
            f"{mean.at[d, 'average_auc']:.3f} ({first.at[d, 'average_auc_attack']})",
            f"{mean.at[d, 'average_tpr_at_1pct_fpr']:.3f} ({first.at[d, 'average_tpr_attack']})",
            f"{mean.at[d, 'canary_auc']:.3f} ({first.at[d, 'canary_auc_attack']})",
            f"{mean.at[d, 'canary_tpr_at_1pct_fpr']:.3f} ({first.at[d, 'canary_tpr_attack']})",
        ]
        for d in mean.index
    ]
    return markdown(header, rows)


def asr_margin(members: int, non_members: int) -> float:
    """The 95% half-width of a balanced accuracy near 0.5 measured on these many members and non-members."""
    return 1.96 * 0.25 * math.sqrt(1 / members + 1 / non_members)


def report(results: dict[int, ProtocolResult], settings: ProtocolSettings, seconds: float) -> str:
    """Both tables with the sizes they were measured on, the conditions' parameters and the tuned settings."""
    first = next(iter(results.values()))
    n = first.evaluated
    tuning = first.tuning
    spread = "mean ± sd over seeds" if len(results) > 1 else "one seed"
    lines = [
        f"## {settings.dataset}: seeds {list(results)}; paper split {asdict(first.split)}",
        f"Evaluated per seed on {n['members']} members, {n['non_members']} non-members and {n['test']} test "
        f"records (the tuner's evaluation split); cells are {spread}.",
        f"95% sampling margins per seed: an attack success rate near 0.5 "
        f"+-{asr_margin(n['members'], n['non_members']):.3f}, an accuracy at most "
        f"+-{1.96 * math.sqrt(0.25 / n['test']):.3f}.",
        "",
        "### The paper's protocol: non-adaptive attacker, attack success rate (balanced accuracy)",
        paper_markdown(per_seed(results, "paper")),
        "",
        "### Adaptive attacker (calibrated on defended outputs): AUC / TPR at 1% FPR",
        adaptive_markdown(per_seed(results, "adaptive"), settings.max_queries),
        "",
        *canary_lines(results),
        "Conditions:",
        *(f"- {r.defense}: `{r.condition}`" for r in first.paper.itertuples() if r.defense != TUNED),
        f"- {TUNED}: {tuning['objective']} under the {tuning['knowledge']} attacker, {tuning['n_trials']} "
        f"trials, accuracy budget {tuning['budget']:g} on the tuning split; chose",
        *(
            f"  - seed {seed}: `{r.paper.set_index('defense').at[TUNED, 'condition']}`"
            for seed, r in results.items()
        ),
        "",
        f"Wall time {seconds / 60:.1f} min (torch threads: {torch.get_num_threads()}).",
    ]
    return "\n".join(lines)


def canary_lines(results: dict[int, ProtocolResult]) -> list[str]:
    """The canary table's heading and table, or nothing without canaries."""
    first = next(iter(results.values()))
    if first.canaries is None:
        return []
    counts = first.canaries.iloc[0]
    return [
        f"### Worst case: the strongest adaptive attack on {counts.canary_members} canary members against "
        f"{counts.canary_non_members} canary non-members (mislabelled), beside every audited record",
        canary_markdown(per_seed(results, "canaries")),
        "",
    ]


def write_outputs(
    results: dict[int, ProtocolResult], settings: ProtocolSettings, folder: Path, seconds: float
) -> None:
    """``paper_table.parquet`` and ``adaptive_table.parquet`` (one row per seed and defense) and
    ``protocol.json`` (settings, per seed the split, evaluated sizes and tuning, package versions)."""
    folder.mkdir(parents=True, exist_ok=True)
    write_parquet(per_seed(results, "paper"), folder / "paper_table.parquet", "paper_table")
    write_parquet(per_seed(results, "adaptive"), folder / "adaptive_table.parquet", "adaptive_table")
    if next(iter(results.values())).canaries is not None:
        write_parquet(per_seed(results, "canaries"), folder / "canary_table.parquet", "canary_table")
    provenance = {
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(settings).items()},
        "runs": [
            {"seed": seed, "split": asdict(r.split), "evaluated": r.evaluated, "tuning": r.tuning}
            for seed, r in results.items()
        ],
        "seconds": round(seconds, 1),
        "versions": package_versions(),
    }
    write_text_atomic(folder / "protocol.json", json.dumps(provenance, indent=2) + "\n")


def parse_settings(argv: list[str] | None = None) -> tuple[ProtocolSettings, Path, int]:
    """The command line as settings, the output folder and the number of seeds."""
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
        choices=[k.value for k in Knowledge],
        default="adaptive",
        help="the attacker the tuner measures",
    )
    parser.add_argument("--seed", type=int, default=0, help="the first seed")
    parser.add_argument(
        "--repeats", type=int, help=f"seeds to run (default: {BUILT_IN_REPEATS} built-in, 1 for image sets)"
    )
    parser.add_argument("--cache-dir", type=Path, help="cache trained shadow/reference models here")
    parser.add_argument(
        "--canaries", type=int, default=0, help="mislabelled records planted among the members (and held out)"
    )
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
        canaries=args.canaries,
    )
    repeats = args.repeats or (1 if args.dataset in IMAGE_SETS else BUILT_IN_REPEATS)
    return settings, args.out / args.dataset, repeats


def main(argv: list[str] | None = None) -> dict[int, ProtocolResult]:
    """Run the protocol once per seed, print both tables, write the outputs; returns the result per seed."""
    torch.set_num_threads(1)
    settings, folder, repeats = parse_settings(argv)
    start = time.perf_counter()
    seeds = range(settings.seed, settings.seed + repeats)
    results = {seed: run_protocol(replace(settings, seed=seed)) for seed in seeds}
    seconds = time.perf_counter() - start
    write_outputs(results, settings, folder, seconds)
    print(report(results, settings, seconds))
    print(f"Written to {folder}/")
    return results


if __name__ == "__main__":
    main()

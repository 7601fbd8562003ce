"""The warm demo's wall time and where it goes, for this tree and a base commit, measured side by side.

    .venv/bin/python benchmarks/demo_time.py                  # this tree against 547ab47, one timed run each
    .venv/bin/python benchmarks/demo_time.py --base HEAD~3 --repeat 3 --cache .dynaudit-cache
    .venv/bin/python benchmarks/demo_time.py --base-attacks   # like for like: the base demo's attacks only
    .venv/bin/python benchmarks/demo_time.py --large 8000 --base f45c652   # a big audit instead of the demo

The base commit is unpacked (``git archive``) into a temporary folder. Both trees run ``dynaudit demo
--verbose`` (a base without the flag, which it does not know, logs at INFO anyway) as a user does, in one
working folder, so they share one model cache: a first untimed run of each warms it. The timed runs then
alternate between the trees so the machine's load falls on both alike; the load average is printed with
each run. With ``--base-attacks`` this tree runs ``dynaudit audit`` on its demo config with the ``attacks``
of the base's (547ab47's demo lacks qmia, augmentation and boundary, the costliest): like for like. With
``--large N`` both trees audit, instead of the demo, a workload nobody tuned for (:func:`large_workload`: a
scikit-learn random forest on N members, with 8 clones as references and a tuning section). The parts come
from Prefect's log lines (task runs finishing) and the run's own clock:

- start-up: process start to the temporary Prefect server's first line (imports, input check);
- Prefect server: that line to the flow run's first line. Today's CLI starts the server itself, without that
  line: its start-up reads nan, and its Prefect server part runs from the process start;
- inputs: data, target, shadow and reference models (from the cache), logits;
- tuning: the tune-dynanoise task; conditions: every evaluate-* task; report: assembling and writing the run
  folder; end: the summary printed and the process gone.

Every run's ``metrics.parquet`` is compared, exactly, with the first run of the same tree: each tree's numbers
must not change from run to run. The trees are not compared with each other: the base may audit other attacks
or conditions (547ab47 has fewer rows). The run folder is ``OUTPUT_DIR/demo/latest/`` today and
``OUTPUT_DIR/demo/`` in older trees; the metrics are read from whichever the tree wrote. Both trees run with
the library defaults for threads (no ``OMP_NUM_THREADS`` and the like), as a user's shell has them.
"""

import argparse
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
BASE = "547ab47"
#: Thread-count settings a user's environment does not have; both trees run without them.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
LINE = re.compile(r"^(\d\d:\d\d:\d\d\.\d{3}) \| \w+ +\| (.*)$")
DAY = 24 * 60 * 60
PARTS = ("start-up", "Prefect server", "inputs", "tuning", "conditions", "report", "end", "total")
#: The log line that ends each part (before "end", which the process's exit ends).
MARKS = {
    "start-up": "Starting temporary server",
    "Prefect server": "Beginning flow run",
    "inputs": "Task run 'split-for-tuning",
    "tuning": "Task run 'tune-dynanoise",
    "conditions": "Task run 'assemble-result",
    "report": "Task run 'write-artifacts",
}


def _clock(stamp: str, started: float) -> float:
    """Seconds since the epoch of a log line's ``HH:MM:SS.mmm``, the first such moment from ``started`` on
    (a run that passes midnight logs the next day's hours)."""
    moment = datetime.strptime(stamp, "%H:%M:%S.%f")
    day = datetime.fromtimestamp(started)
    clock = day.replace(hour=moment.hour, minute=moment.minute, second=moment.second,
                        microsecond=moment.microsecond).timestamp()  # fmt: skip
    return clock + DAY if clock < started - 1 else clock  # a second's slack: log stamps are rounded


def parts(log: str, started: float, ended: float) -> dict[str, float]:
    """The seconds of each of :data:`PARTS`, from the run's log and its start and end times."""
    marks = {}
    for line in log.splitlines():
        match = LINE.match(line)
        if match:
            for part, text in MARKS.items():
                if text in match.group(2) and ("Finished" in line or part in ("start-up", "Prefect server")):
                    marks[part] = _clock(match.group(1), started)  # the last such line: the step's end
    seconds, previous = {}, started
    for part in PARTS[:-2]:
        if part not in marks:  # no such line: the next part includes this one
            seconds[part] = math.nan
            continue
        seconds[part] = marks[part] - previous
        previous = marks[part]
    seconds["end"] = ended - previous
    seconds["total"] = ended - started
    return seconds


def unpack(commit: str, folder: Path) -> Path:
    """The files of ``commit`` in ``folder`` (``git archive``: the repository is left as it is)."""
    folder.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit], check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    return folder


def run_demo(
    tree: Path, workdir: Path, output: Path, verbose: bool, config: Path | None = None
) -> tuple[dict[str, float], pd.DataFrame]:
    """One ``dynaudit demo`` of ``tree`` in ``workdir`` (its model cache), or ``dynaudit audit config`` (whose
    run name is ``demo`` too); its parts and metrics."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    for name in ("PREFECT_API_URL", *THREAD_VARIABLES):  # a temporary server and every core's threads, as a
        env.pop(name, None)  # first-time user gets (OMP_NUM_THREADS=1 hid the tuner's thread contention)
    what = ["demo"] if config is None else ["audit", str(config)]
    command = [sys.executable, "-m", "flows.cli", *what, "--output-dir", str(output)]
    started = time.time()
    done = subprocess.run(
        [*command, *(["--verbose"] if verbose else [])], cwd=workdir, env=env, capture_output=True, text=True
    )
    ended = time.time()
    if done.returncode != 0:
        raise SystemExit(f"the demo of {tree} failed:\n{done.stderr[-3000:]}")
    return parts(done.stdout + done.stderr, started, ended), pd.read_parquet(metrics_file(output / "demo"))


def metrics_file(run_folder: Path) -> Path:
    """The run's ``metrics.parquet``: under ``latest`` (run history, today) or in the folder (older trees)."""
    latest = run_folder / "latest" / "metrics.parquet"
    return latest if latest.exists() else run_folder / "metrics.parquet"


def demo_with_attacks_of(tree: Path, base: Path, folder: Path) -> Path:
    """``tree``'s demo config auditing only the attacks of ``base``'s demo, written to ``folder``."""
    config, base_config = (
        yaml.safe_load((root / "configs" / "demo.yaml").read_text(encoding="utf-8")) for root in (tree, base)
    )
    config["attacks"] = base_config["attacks"]
    path = folder / "demo-with-base-attacks.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def large_workload(folder: Path, members: int) -> Path:
    """A big audit's config in ``folder``: a scikit-learn random forest (100 trees, leaves of at least 2
    records) trained on ``members`` synthetic records (20 features, 3 classes, 8% of labels flipped), audited
    against as many non-members, with twice as many population records, half as many test records, 8 reference
    models (the forest's clones) and DynaNoise tuned to a budget of 0.03; run name ``demo``."""
    import skops.io
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier

    features, labels = make_classification(
        n_samples=4 * members + members // 2, n_features=20, n_informative=8, n_redundant=4, n_classes=3,
        flip_y=0.08, class_sep=0.8, random_state=3,
    )  # fmt: skip
    table = pd.DataFrame(features.astype(np.float32), columns=[f"f{i}" for i in range(20)])
    table["label"] = labels
    ends = {"members": members, "non_members": 2 * members, "population": 4 * members, "test": None}
    start = 0
    for part, end in ends.items():
        table[start:end].to_parquet(folder / f"{part}.parquet", index=False)
        start = end
    forest = RandomForestClassifier(n_estimators=100, min_samples_leaf=2, n_jobs=1, random_state=0)
    skops.io.dump(
        forest.fit(features[:members].astype(np.float32), labels[:members]), folder / "forest.skops"
    )
    config = {
        "run_name": "demo",
        "data": {
            "kind": "table",
            "label": "label",
            **{part: str(folder / f"{part}.parquet") for part in ends},
        },
        "target": {"kind": "sklearn", "path": str(folder / "forest.skops")},
        "reference_models": 8,
        "tune": {"budget": 0.03},
    }
    path = folder / "large.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def knows_verbose(tree: Path) -> bool:
    """Whether the tree's command line has ``--verbose`` (older ones log Prefect's INFO lines anyway)."""
    return '"--verbose"' in (tree / "flows" / "cli.py").read_text(encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default=BASE, help=f"the commit to compare with ({BASE})")
    parser.add_argument("--repeat", type=int, default=1, help="timed runs of each tree (1)")
    parser.add_argument(
        "--tree", help="a commit to measure instead of the working tree (which must not change)"
    )
    parser.add_argument("--cache", type=Path, help="a model cache to start from (e.g. .dynaudit-cache)")
    parser.add_argument(
        "--base-attacks",
        action="store_true",
        help="the tree audits its demo with only the attacks the base's demo ran (like for like)",
    )
    parser.add_argument(
        "--large",
        type=int,
        metavar="N",
        help="both trees audit a random forest on N members (large_workload)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="demo-time-") as tmp:
        work = Path(tmp)
        base_tree = unpack(args.base, work / "base")
        tree = ROOT if args.tree is None else unpack(args.tree, work / "tree")
        if args.cache is not None:  # models trained before: the warm-up runs need not train them again
            shutil.copytree(args.cache, work / ".dynaudit-cache")
        config = demo_with_attacks_of(tree, base_tree, work) if args.base_attacks else None
        workload = None if args.large is None else large_workload(work, args.large)
        trees = {
            f"base {args.base}": (base_tree, knows_verbose(base_tree), workload),
            (args.tree or "this tree") + (" (base's attacks)" if config else ""): (
                tree,
                True,
                config or workload,
            ),
        }
        reference = {  # warm the model cache and compile the modules, untimed; each tree's own numbers
            name: run_demo(tree, work, work / f"warm-{index}", verbose, config)[1]
            for index, (name, (tree, verbose, config)) in enumerate(trees.items())
        }
        times: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
        for repeat in range(args.repeat):
            for index, (name, (tree, verbose, config)) in enumerate(trees.items()):
                load = os.getloadavg()[0]
                seconds, metrics = run_demo(tree, work, work / f"run-{repeat}-{index}", verbose, config)
                times[name].append(seconds)
                print(f"{name}: {seconds['total']:.1f} s (load average {load:.1f})", flush=True)
                pd.testing.assert_frame_equal(metrics, reference[name], check_exact=True)  # or stop
    what = "Warm demo" if workload is None else f"Warm audit of a random forest on {args.large} members"
    print(
        f"\n{what}, median of {args.repeat} run(s) per tree on {os.cpu_count()} cores; each tree's "
        "metrics.parquet identical in every run (its warm-up included)\n"
    )
    print("| part | " + " | ".join(f"{name} (s)" for name in times) + " |")
    print("|---|" + "---|" * len(times))
    for part in PARTS:
        cells = [f"{statistics.median(t[part] for t in runs):.1f}" for runs in times.values()]
        print(f"| {part} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()

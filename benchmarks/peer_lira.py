"""dynaudit's LiRA and RMIA beside a peer's LiRA (SACRO-ML 2.0.1) on the same scikit-learn targets.

    make peers-env                                        # once: SACRO-ML in .venv-peers
    PYTHONPATH=. .venv/bin/python benchmarks/peer_lira.py # about 2 minutes

Two targets from the other benchmarks, neither one dynaudit's own network: the distance-weighted k-NN of
``reversed_signal.py`` (600 members, 20 classes, a Parquet table of float64 numbers) and the census random
forest of ``text_table.py`` (here 600 members; text columns). Each is audited undefended with 8 clone
references (complementary halves of members and non-members). SACRO-ML's LiRA trains as many clones, each
on a random set of as many records as the members drawn from members and non-members together
(``peer_sacro_lira.py``, in its own environment, because SACRO-ML needs pandas < 3). Printed: each
attack's AUC on every member and non-member, dynaudit's with its 95% interval, and the wall times. The two
tools draw different shadow sets, so their AUCs agree up to that sampling, not digit for digit.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from benchmarks import reversed_signal, text_table
from benchmarks.text_table import auc_text, timed_run

PEER_SCRIPT = Path(__file__).with_name("peer_sacro_lira.py")
OURS = ("lira_online", "lira_offline", "rmia")
PEERS = ("online", "online, fixed variance", "offline")
MEMBERS = 600
WORKLOADS: dict[str, Callable[[Path], dict]] = {
    "k-NN (distance-weighted)": partial(reversed_signal.write_audit, neighbours=5),
    "random forest (census)": partial(text_table.write_audit, members=MEMBERS),
}


def peer_aucs(python: str, config: dict, folder: Path, shadows: int) -> dict[str, float]:
    """SACRO-ML's LiRA AUCs on the audit ``config`` (its files in ``folder``), from the peers' ``python``."""
    path = folder / "audit.json"
    path.write_text(json.dumps(config))
    done = subprocess.run(
        [python, str(PEER_SCRIPT), str(path), str(shadows)], capture_output=True, text=True, check=False
    )
    if done.returncode:
        sys.exit(f"{PEER_SCRIPT.name} failed: {done.stderr.strip().splitlines()[-1]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer-python", default=".venv-peers/bin/python", help="where SACRO-ML is installed")
    parser.add_argument(
        "--references", type=int, default=8, help="reference (and shadow) models of each tool"
    )
    args = parser.parse_args()
    if not Path(args.peer_python).exists():
        sys.exit(f"--peer-python: {args.peer_python} does not exist; run `make peers-env` first.")
    rows, times = [], []
    for name, write in WORKLOADS.items():
        folder = Path(tempfile.mkdtemp(prefix="peer-lira-"))
        config = write(folder) | {"defenses": [], "reference_models": args.references}
        result, ours_s = timed_run(config)
        (undefended,) = result.evaluations
        start = time.perf_counter()
        peers = peer_aucs(args.peer_python, config, folder, args.references)
        ours = [auc_text(undefended.outcome(attack, "naive").auc) for attack in OURS]
        rows.append([name, *ours, *(f"{peers[p]:.3f}" for p in PEERS)])
        times.append(
            f"{name}: dynaudit {ours_s:.1f} s (every attack), SACRO-ML {time.perf_counter() - start:.1f} s"
        )
    header = ["target", *(f"dynaudit {a}" for a in OURS), *(f"SACRO-ML {p}" for p in PEERS)]
    for row in (header, ["---"] * len(header), *rows):
        print("| " + " | ".join(row) + " |")
    print("\n" + "\n".join(times))


if __name__ == "__main__":
    main()

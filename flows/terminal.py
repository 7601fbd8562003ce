"""What the ``dynaudit`` command prints when an audit or a tuning ends: the conclusion first-hand, the details
on request.

An audit's last block always begins with the verdict (or, without a policy, the undefended risk), then the
chosen defense, one row per condition and where the report is; a tuning's with the chosen DynaNoise and what
it costs, then each defense's chosen setting and where the files are. ``--verbose`` adds every file of the
run folder (and an audit's full tables). Tables are drawn by ``rich``: styled on a terminal, plain text in a
pipe or a log.
"""

import io
import json

import pandas as pd
from rich import box
from rich.console import Console, JustifyMethod
from rich.measure import Measurement
from rich.table import Table

from audit_core.core.locations import Location, join
from audit_core.defenses.serving import PARAMS_FILE
from audit_core.results.risk import UNSHOWN_MARK, UNSHOWN_NOTE
from audit_core.results.runs import FRONT, MANIFEST, METRICS, TRIALS, read_run_file, run_files
from audit_core.results.summary import (
    CONDITION_COLUMNS,
    conclusion,
    strongest_per_condition,
    summary_table,
    tuning_conclusion,
    tuning_rows,
)

REPORT_FILES = ("report.pdf", "report.html")


def console() -> Console:
    """Standard output, styled only on a terminal; sentences are not wrapped (the terminal wraps them)."""
    return Console(highlight=False, soft_wrap=True)


def print_table(out: Console, table: Table) -> None:
    """``table`` at its full width, even when the terminal (or a pipe's default 80 columns) is narrower:
    a number cut short is worse than a wrapped line."""
    out.width = max(out.width, Measurement.get(out, out.options.update_width(1000), table).maximum)
    out.print(table)


def _table(columns: list[tuple[str, JustifyMethod]], rows: list[list[str]]) -> Table:
    """A borderless table with a rule under its header; ``columns``: (header, justify); no cell wraps."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for header, justify in columns:
        table.add_column(header, no_wrap=True, justify=justify)
    for row in rows:
        table.add_row(*row)
    return table


def conditions_table(rows: list[dict[str, str]]) -> Table:
    """One row per condition: the strongest attack over the attacker knowledges, with which one."""
    left = ("name", "attack", "knowledge")
    columns = [(header, "left" if key in left else "right") for key, header in CONDITION_COLUMNS.items()]
    return _table(columns, [[row[key] for key in CONDITION_COLUMNS] for row in rows])


def _print_files(out: Console, what: str, run_dir: Location) -> None:
    out.print(f"\n{what} written to {run_dir}/")
    for name in run_files(run_dir):
        out.print(f"  {join(run_dir, name)}")


def _read_parquet(run_dir: Location, name: str) -> pd.DataFrame:
    return pd.read_parquet(io.BytesIO(read_run_file(run_dir, name)))


def print_audit(run_dir: Location, *, verbose: bool = False, out: Console | None = None) -> None:
    """Print the end of an audit whose run folder is ``run_dir`` (a path, or a URL on an object store)."""
    out = out or console()
    metrics = _read_parquet(run_dir, METRICS)
    manifest = json.loads(read_run_file(run_dir, MANIFEST))
    ending = conclusion(metrics, manifest)
    tuned = manifest.get("conditions", {}).get("tuned")
    if verbose:
        _print_files(out, "Audit", run_dir)
        out.print(f"\n{summary_table(metrics, tuned)}")
    fidelity = (manifest.get("reference_fidelity") or {}).get("warning")
    for warning in [*manifest.get("warnings", []), fidelity, ending.skipped]:
        if warning:
            out.print(f"Warning: {warning}")
    out.print()
    for sentence in (ending.verdict, ending.risk, ending.exposed_class, ending.chosen):
        if sentence is not None:
            out.print(sentence)
    rows = strongest_per_condition(metrics, tuned)
    print_table(out, conditions_table(rows))
    if any(row["tier"].endswith(UNSHOWN_MARK) for row in rows):
        out.print(UNSHOWN_NOTE)
    out.print(ending.models)
    reports = " and ".join(str(join(run_dir, name)) for name in REPORT_FILES)
    out.print(f"Report: {reports}; every metric in {join(run_dir, METRICS)}.")


def print_tuning(run_dir: Location, *, verbose: bool = False, out: Console | None = None) -> None:
    """Print the end of a tuning whose run folder is ``run_dir`` (a path, or a URL on an object store)."""
    out = out or console()
    provenance = json.loads(read_run_file(run_dir, PARAMS_FILE))["provenance"]
    front = _read_parquet(run_dir, FRONT)
    if verbose:
        _print_files(out, "Tuning", run_dir)
    out.print()
    out.print(tuning_conclusion(front, provenance))
    header, rows = tuning_rows(front, provenance["objective"])
    columns = [  # "metric (tuning / evaluation)" on two lines; the defense and its setting on the left
        (name.replace(" (", "\n("), "left" if position < 2 else "right")
        for position, name in enumerate(header)
    ]
    print_table(out, _table(columns, rows))
    out.print(
        f"Parameters: {join(run_dir, PARAMS_FILE)}; every trial in {join(run_dir, TRIALS)}, every defense's "
        f"settings in {join(run_dir, FRONT)}."
    )

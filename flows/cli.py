"""The ``dynaudit`` command line: ``dynaudit demo`` and ``dynaudit audit CONFIG.yaml``.

Exit codes: 0 success, 2 bad input or config (one sentence on stderr, nothing written), 3 internal error.
"""

import argparse
import os
import sys
from pathlib import Path

from audit_core.artifacts import check_output_dir
from audit_core.config import AuditConfig, load_config, parse_config
from audit_core.errors import AuditInputError

EXIT_OK, EXIT_BAD_INPUT, EXIT_INTERNAL = 0, 2, 3

# Prefect settings that suit a one-machine, offline audit; anything the user exported wins.
PREFECT_DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    "DO_NOT_TRACK": "1",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dynaudit",
        description="Membership-inference privacy audits with the DynaNoise defense, run as Prefect flows.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="audit the embedded demo model (no input needed)",
        description="Train a small classifier on scikit-learn's digits, audit it undefended and under "
        "DynaNoise, and write the report and Parquet artifacts to OUTPUT_DIR/RUN_NAME/.",
    )
    demo.add_argument("--output-dir", type=Path, default=Path("out"), help="folder for run folders (out)")
    demo.add_argument("--run-name", default="demo", help="name of the run folder (demo)")
    demo.add_argument("--seed", type=int, default=0, help="master seed (0)")
    audit = commands.add_parser(
        "audit",
        help="run the audit described by a YAML config",
        description="Run the audit described by CONFIG (a YAML AuditConfig) and write its artifacts.",
    )
    audit.add_argument("config", type=Path, help="YAML file with an AuditConfig")
    audit.add_argument("--output-dir", type=Path, help="override the config's output_dir")
    return parser


def _config(args: argparse.Namespace) -> AuditConfig:
    if args.command == "demo":
        return parse_config(
            {"run_name": args.run_name, "seed": args.seed, "output_dir": str(args.output_dir)},
            source="command line",
        )
    config = load_config(args.config)
    if args.output_dir is not None:
        config = config.model_copy(update={"output_dir": args.output_dir})
    return config


def _check_inputs(config: AuditConfig) -> None:
    from audit_core.pipeline import check_inputs  # imported late: it loads torch, torchvision and skops

    check_inputs(config)


def _run(config: AuditConfig) -> Path:
    for name, value in PREFECT_DEFAULTS.items():
        os.environ.setdefault(name, value)
    from flows.audit import audit  # imported late: Prefect takes seconds to import

    state = audit(config, return_state=True)
    outcome = state.result(raise_on_failure=False)
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome


def _print_summary(run_dir: Path) -> None:
    import pandas as pd

    from audit_core.summary import summary_table

    print(f"\nAudit written to {run_dir}/")
    for name in sorted(p.name for p in run_dir.iterdir()):
        print(f"  {run_dir / name}")
    print("\nAUC is threshold-free (higher = more leakage; 0.5 = guessing); the strongest attack has")
    print("the highest AUC. MIDPUT is the DynaNoise paper's privacy-utility score (larger = better).\n")
    print(summary_table(pd.read_parquet(run_dir / "metrics.parquet")))


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``dynaudit`` console script; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        config = _config(args)
        check_output_dir(config.output_dir)
        _check_inputs(config)
        run_dir = _run(config)
    except AuditInputError as error:
        print(f"dynaudit: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as error:  # an internal failure: say so briefly; Prefect has logged the details
        print(f"dynaudit: internal error: {type(error).__name__}: {error}", file=sys.stderr)
        return EXIT_INTERNAL
    _print_summary(run_dir)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())

"""The ``dynaudit`` command line: ``demo``, ``audit CONFIG.yaml``, ``tune CONFIG.yaml``,
``gate CONFIG.yaml --policy P.yaml`` and ``serve [CONFIG_DIR]``.

Exit codes: 0 success (gate: every rule holds), 1 gate policy failed, 2 bad input or config (one sentence
on stderr, nothing written), 3 internal error.
"""

import argparse
import json
import os
import socket
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from audit_core.config import DEMO_SETTINGS, AuditConfig, RunnerConfig, load_config, parse_config
from audit_core.core.errors import AuditInputError, ConfigError
from audit_core.results.artifacts import check_output_dir

EXIT_OK, EXIT_POLICY_FAILED, EXIT_BAD_INPUT, EXIT_INTERNAL = 0, 1, 2, 3
SCHEDULER_TIMEOUT_S = 10  # how long the input check waits for a Dask scheduler to accept a connection

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
    tune = commands.add_parser(
        "tune",
        help="tune DynaNoise under an accuracy budget and compare the baselines",
        description="Tune DynaNoise's (sigma0_sq, lam, T) as the config's 'tune:' section says (defaults if "
        "absent) and write dynanoise-params.json, tuning.parquet (every trial) and front.parquet / front.svg "
        "(DynaNoise and every baseline) to OUTPUT_DIR/RUN_NAME-tune/.",
    )
    tune.add_argument("config", type=Path, help="YAML file with an AuditConfig")
    tune.add_argument("--output-dir", type=Path, help="override the config's output_dir")
    gate = commands.add_parser(
        "gate",
        help="audit, then pass or fail a model against a policy (for CI)",
        description="Run the audit CONFIG describes and check the limits of POLICY. Exit 0 when every "
        "rule holds, 1 when one is broken, 2 on bad input, 3 on an internal error.",
    )
    gate.add_argument("config", type=Path, help="YAML file with an AuditConfig")
    gate.add_argument(
        "--policy", type=Path, help="YAML file with a GatePolicy (default: the config's 'policy:' section)"
    )
    gate.add_argument("--previous", type=Path, help="a previous run's metrics.parquet, to report regressions")
    gate.add_argument("--junit", type=Path, help="write a JUnit XML file here (one test case per rule)")
    gate.add_argument("--summary", type=Path, help="write a markdown summary here")
    gate.add_argument("--output-dir", type=Path, help="override the config's output_dir")
    serve = commands.add_parser(
        "serve",
        help="serve scheduled and ad-hoc audit deployments to a Prefect server",
        description="Create one deployment per YAML config in CONFIG_DIR (on the cron schedule of its "
        "'schedule:' block, if any) plus ad-hoc deployments for runs started from the Prefect UI, and run "
        "their flow runs until interrupted. Needs PREFECT_API_URL.",
    )
    serve.add_argument("config_dir", type=Path, nargs="?", default=Path("configs"), help="(configs)")
    serve.add_argument(
        "--pause-on-shutdown",
        action="store_true",
        help="pause the schedules when this process stops (default: they stay active)",
    )
    serve.add_argument("--limit", type=int, default=1, help="most flow runs at once (1)")
    return parser


def _config(args: argparse.Namespace) -> AuditConfig:
    if args.command == "demo":
        return parse_config(
            {
                "run_name": args.run_name,
                "seed": args.seed,
                "output_dir": str(args.output_dir),
                **DEMO_SETTINGS,
            },
            source="command line",
        )
    config = load_config(args.config)
    if args.output_dir is not None:
        config = config.model_copy(update={"output_dir": args.output_dir})
    check_output_dir(config.output_dir)
    return config


def _check_scheduler(runner: RunnerConfig) -> None:
    """Stop before any work when ``runner.address`` names a Dask scheduler that does not answer."""
    address = getattr(runner, "address", None)
    if address is None:
        return
    where = urlsplit(address)
    try:
        socket.create_connection((where.hostname, where.port), timeout=SCHEDULER_TIMEOUT_S).close()
    except OSError as error:
        raise AuditInputError(
            f"runner.address: no Dask scheduler answers at {address} ({error.strerror or error}); start one "
            "(dask scheduler) or correct the address."
        ) from None


def _check_inputs(config: AuditConfig) -> None:
    from audit_core.audit.inputs import check_inputs  # imported late: it loads torch, torchvision and skops

    check_inputs(config)
    _check_scheduler(config.runner)


def _use_prefect_defaults() -> None:
    for name, value in PREFECT_DEFAULTS.items():
        os.environ.setdefault(name, value)


def _run(flow: Any, **parameters: Any) -> Any:
    """Run ``flow`` in this process and return its result; re-raise the error of a run that raised."""
    state = flow(**parameters, return_state=True)
    outcome = state.result(raise_on_failure=False)
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome


def _print_tuning(run_dir: Path) -> None:
    import pandas as pd

    from audit_core.defenses.serving import PARAMS_FILE
    from audit_core.results.summary import tuning_table

    document = json.loads((run_dir / PARAMS_FILE).read_text(encoding="utf-8"))
    print(f"\nTuning written to {run_dir}/")
    for name in (PARAMS_FILE, "tuning.parquet", "front.parquet", "front.svg", "manifest.json"):
        print(f"  {run_dir / name}")
    provenance = document["provenance"]
    print(
        f"\nChosen DynaNoise {document['params']} ({provenance['objective']}, {provenance['knowledge']} "
        f"attacker, accuracy budget {provenance['budget']:g}, {provenance['n_trials']} trials).\n"
    )
    print(tuning_table(pd.read_parquet(run_dir / "front.parquet"), provenance["objective"]))


def _print_summary(run_dir: Path) -> None:
    import pandas as pd

    from audit_core.results.summary import model_cache_line, summary_table

    print(f"\nAudit written to {run_dir}/")
    for name in sorted(p.name for p in run_dir.iterdir()):
        print(f"  {run_dir / name}")
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    print(model_cache_line(manifest["model_cache"]))
    fidelity = manifest.get("reference_fidelity") or {}
    if fidelity.get("warning"):
        print(f"Warning: {fidelity['warning']}", file=sys.stderr)
    print("\nAUC is threshold-free (higher = more leakage; 0.5 = guessing); the strongest attack has")
    print("the highest AUC. MIDPUT is the DynaNoise paper's privacy-utility score (larger = better).\n")
    print(summary_table(pd.read_parquet(run_dir / "metrics.parquet")))


def _audit_command(args: argparse.Namespace) -> int:
    config = _config(args)
    _check_inputs(config)
    _use_prefect_defaults()
    from flows.audit import audit  # imported late: Prefect takes seconds to import

    _print_summary(_run(audit, config=config))
    return EXIT_OK


def _tune_command(args: argparse.Namespace) -> int:
    config = _config(args)
    _check_inputs(config)
    _use_prefect_defaults()
    from flows.tune import tune  # imported late: Prefect takes seconds to import

    _print_tuning(_run(tune, config=config))
    return EXIT_OK


def _gate_command(args: argparse.Namespace) -> int:
    from audit_core.gate.check import check_policy, load_policy, read_metrics
    from audit_core.gate.reports import markdown_summary

    config = _config(args)
    if args.policy is None and config.policy is None:
        raise ConfigError(
            "dynaudit gate needs a policy: pass --policy POLICY.yaml or add a 'policy:' section to "
            f"{args.config}."
        )
    policy = config.policy if args.policy is None else load_policy(args.policy)
    check_policy(policy, config)
    if args.previous is not None:
        read_metrics(args.previous)
    for report in (args.junit, args.summary):
        if report is not None:
            check_output_dir(report.parent)
    _check_inputs(config)
    _use_prefect_defaults()
    from flows.gate import gate

    verdict = _run(
        gate,
        config=config,
        policy=policy,
        previous_metrics=args.previous,
        junit_path=args.junit,
        summary_path=args.summary,
    )
    print(markdown_summary(verdict, config.run_name))
    return EXIT_OK if verdict.passed else EXIT_POLICY_FAILED


def _serve_command(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise AuditInputError(f"--limit {args.limit} is invalid; expected at least 1 flow run at a time.")
    _use_prefect_defaults()
    from flows.serve import serve_configs

    serve_configs(args.config_dir, pause_on_shutdown=args.pause_on_shutdown, limit=args.limit)
    return EXIT_OK


COMMANDS = {
    "demo": _audit_command,
    "audit": _audit_command,
    "tune": _tune_command,
    "gate": _gate_command,
    "serve": _serve_command,
}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``dynaudit`` console script; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except AuditInputError as error:
        print(f"dynaudit: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as error:  # an internal failure: say so briefly; Prefect has logged the details
        print(f"dynaudit: internal error: {type(error).__name__}: {error}", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())

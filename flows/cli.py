"""The ``dynaudit`` command line: ``demo``, ``audit CONFIG.yaml``, ``tune CONFIG.yaml``,
``gate CONFIG.yaml --policy P.yaml``, ``runs RUN_NAME`` and ``serve [CONFIG_DIR]``.

Exit codes: 0 success (gate: every rule holds, its verdict written), 1 gate policy failed, 2 bad input or
config (one sentence on stderr, nothing written), 3 internal error (any other exception, SystemExit from a
model included), 130 interrupted, 143 terminated (SIGTERM; the temporary Prefect server stops too).
"""

import argparse
import os
import socket
import sys
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from audit_core.core.errors import AuditInputError, ConfigError
from flows import fast_exit
from flows.temporary_server import (
    TemporaryServer,
    Terminated,
    answers_health,
    prefect_api,
    raise_if_terminated,
    reap_orphaned_servers,
    start_temporary_server,
    stop_on_sigterm,
    was_terminated,
)
from flows.warnings_once import show_each_warning_once

if TYPE_CHECKING:  # the rest of dynaudit is imported where it is used, after the server is launched
    from audit_core.audit.inputs import CheckedInputs
    from audit_core.config import AuditConfig, RunnerConfig

EXIT_OK, EXIT_POLICY_FAILED, EXIT_BAD_INPUT, EXIT_INTERNAL = 0, 1, 2, 3
EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 143  # Ctrl-C and SIGTERM, as shells report them
SCHEDULER_TIMEOUT_S = 10  # how long the input check waits for a Dask scheduler to accept a connection
API_TIMEOUT_S = 10  # how long it waits for the Prefect server PREFECT_API_URL names to answer

# Prefect settings that suit a one-machine, offline audit; anything the user exported wins.
PREFECT_DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    "DO_NOT_TRACK": "1",
}
#: Without --verbose, Prefect's console shows warnings and errors only; its per-task INFO lines still reach
#: the Prefect server (the UI) through its API handler.
QUIET_PREFECT = {"PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "WARNING"}


OUTPUT_DIR_HELP = "where runs are kept: a folder, or an s3://, gs:// or az:// URL (out)"
OVERRIDE_HELP = "override the config's output_dir (a folder or an s3://, gs:// or az:// URL)"


def _add_verbose(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--verbose", action="store_true", help="also show Prefect's log lines, every file and the full tables"
    )


def _config_command(commands: Any, name: str, *, help: str, description: str) -> argparse.ArgumentParser:
    """A command that runs a YAML AuditConfig: its CONFIG argument, ``--output-dir`` and ``--verbose``."""
    command = commands.add_parser(name, help=help, description=description)
    command.add_argument("config", type=Path, help="YAML file with an AuditConfig")
    command.add_argument("--output-dir", help=OVERRIDE_HELP)
    _add_verbose(command)
    return command


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
        "DynaNoise, and write the report and Parquet artifacts to a new run folder "
        "OUTPUT_DIR/RUN_NAME/<run id>/ (OUTPUT_DIR/RUN_NAME/latest points at it).",
    )
    demo.add_argument("--output-dir", default="out", help=OUTPUT_DIR_HELP)
    demo.add_argument("--run-name", default="demo", help="name of the run's history (demo)")
    demo.add_argument("--seed", type=int, default=0, help="master seed (0)")
    _add_verbose(demo)
    _config_command(
        commands,
        "audit",
        help="run the audit described by a YAML config",
        description="Run the audit described by CONFIG (a YAML AuditConfig) and write its artifacts.",
    )
    _config_command(
        commands,
        "tune",
        help="tune DynaNoise under an accuracy budget and compare the baselines",
        description="Tune DynaNoise's (sigma0_sq, lam, T) as the config's 'tune:' section says (defaults if "
        "absent) and write dynanoise-params.json, tuning.parquet (every trial) and front.parquet / front.svg "
        "(DynaNoise and every baseline) to a new run folder OUTPUT_DIR/RUN_NAME-tune/<run id>/.",
    )
    gate = _config_command(
        commands,
        "gate",
        help="audit, then pass or fail a model against a policy (for CI)",
        description="Run the audit CONFIG describes and check the limits of POLICY. Exit 0 when every "
        "rule holds, 1 when one is broken, 2 on bad input, 3 on an internal error.",
    )
    gate.add_argument(
        "--policy", type=Path, help="YAML file with a GatePolicy (default: the config's 'policy:' section)"
    )
    gate.add_argument(
        "--previous",
        help="the run to report regressions against: a metrics.parquet, a run folder, or a run name (its "
        "last complete run under OUTPUT_DIR); a path or a URL",
    )
    gate.add_argument("--junit", type=Path, help="write a JUnit XML file here (one test case per rule)")
    gate.add_argument("--summary", type=Path, help="write a markdown summary here")
    check = commands.add_parser(
        "check",
        help="check a YAML config and its inputs without running the audit (for CI)",
        description="Check CONFIG and all it names as an audit does before any work: its fields, the data "
        "(a few records of each part decoded), the target (asked about them), the shadow and reference "
        "inputs, the output and cache folders and the policy. Nothing is trained, run or written and no "
        "Prefect server starts. Exit 0 when an audit could start, 2 on bad input (one sentence).",
    )
    check.add_argument("config", type=Path, help="YAML file with an AuditConfig")
    check.add_argument("--output-dir", help=OVERRIDE_HELP)
    check.add_argument(
        "--policy", type=Path, help="also check this GatePolicy file (default: the config's 'policy:')"
    )
    runs = commands.add_parser(
        "runs",
        help="list the kept runs of a run name",
        description="List the complete runs of RUN_NAME under OUTPUT_DIR, oldest first: run id, when it "
        "finished, the policy's verdict, the strongest attack on the chosen defense and that defense.",
    )
    runs.add_argument("run_name", help="the run name (a config's run_name)")
    runs.add_argument("--output-dir", default="out", help=OUTPUT_DIR_HELP)
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


def _config(args: argparse.Namespace) -> "AuditConfig":
    from audit_core.config import DEMO_SETTINGS, load_config, parse_config
    from audit_core.results.artifacts import check_output_dir

    if args.command == "demo":
        config = parse_config(
            {
                "run_name": args.run_name,
                "seed": args.seed,
                "output_dir": args.output_dir,
                **DEMO_SETTINGS,
            },
            source="command line",
        )
    else:
        config = load_config(args.config)
        if args.output_dir is not None:
            config = _with_output_dir(config, args.output_dir)
    if config.storage_credentials is not None:
        _use_prefect_defaults()
        from flows.credentials import use_storage_credentials  # imported late: it imports Prefect

        use_storage_credentials(config)
    check_output_dir(config.output_dir)
    if config.cache_dir is not None:
        check_output_dir(config.cache_dir, name="cache_dir")
    return config


def _check_scheduler(runner: "RunnerConfig") -> None:
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


def _check_prefect_server() -> None:
    """Stop before any work when ``PREFECT_API_URL`` names a Prefect server that does not answer."""
    api_url = os.environ.get("PREFECT_API_URL")
    if api_url and not answers_health(api_url, timeout=API_TIMEOUT_S):
        raise AuditInputError(
            f"PREFECT_API_URL: no Prefect server answers at {api_url}; start it "
            "(prefect server start), correct the URL, or unset it to let dynaudit start a temporary server."
        )


def _check_inputs(config: "AuditConfig") -> "CheckedInputs":
    from audit_core.audit.inputs import check_inputs  # imported late: it loads torch, torchvision and skops

    checked = check_inputs(config)
    _check_scheduler(config.runner)
    _check_prefect_server()
    return checked


def _use_prefect_defaults(verbose: bool = True) -> None:
    """Offline defaults for Prefect; without ``verbose``, its INFO lines stay out of the terminal."""
    for name, value in {**PREFECT_DEFAULTS, **({} if verbose else QUIET_PREFECT)}.items():
        os.environ.setdefault(name, value)


def _prepare_prefect(verbose: bool = True) -> TemporaryServer | None:
    """Prefect's defaults (its INFO lines only with ``verbose``); without PREFECT_API_URL, a temporary server
    launched now and recorded, after stopping those that killed commands left behind."""
    _use_prefect_defaults(verbose)
    reap_orphaned_servers()
    return start_temporary_server()


def _run(flow: Any, server: TemporaryServer | None, *, verbose: bool, **parameters: Any) -> Any:
    """Run ``flow`` in this process against ``server`` (or the configured one) and return its result;
    re-raise the error of a run that raised. Without ``verbose``, a bad input the run finds is said once, by
    the command (:mod:`flows.bad_input_logs`)."""
    from flows.bad_input_logs import bad_input_said_once

    raise_if_terminated()  # a SIGTERM whose exception was lost stops the command before its run starts
    with prefect_api(server), nullcontext() if verbose else bad_input_said_once():
        state = flow(**parameters, return_state=True)
    outcome = state.result(raise_on_failure=False)
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome


def _with_output_dir(config: "AuditConfig", value: str) -> "AuditConfig":
    """``config`` writing its runs to ``value`` (``--output-dir``: a folder or an object-store URL)."""
    from audit_core.core.locations import parse_location

    try:
        location = parse_location(value)
    except ValueError as error:
        raise AuditInputError(f"--output-dir '{value}' {error}.") from None
    return config.model_copy(update={"output_dir": location})


def _audit_command(args: argparse.Namespace, server: TemporaryServer | None) -> int:
    config = _config(args)
    _check_inputs(config)
    from flows.audit import audit  # imported late, while the server starts: Prefect takes seconds to import
    from flows.terminal import print_audit

    print_audit(_run(audit, server, verbose=args.verbose, config=config), verbose=args.verbose)
    return EXIT_OK


def _tune_command(args: argparse.Namespace, server: TemporaryServer | None) -> int:
    config = _config(args)
    _check_inputs(config)
    from flows.terminal import print_tuning
    from flows.tune import tune  # imported late, while the server starts: Prefect takes seconds to import

    print_tuning(_run(tune, server, verbose=args.verbose, config=config), verbose=args.verbose)
    return EXIT_OK


def _check_gate_written(verdict: Any, *reports: Path | None) -> None:
    """Pass or fail only on a computed verdict whose requested reports exist; anything else is an error."""
    from audit_core.gate.check import GateVerdict

    if not isinstance(verdict, GateVerdict):
        raise RuntimeError(f"the gate flow ended without a verdict (it returned {type(verdict).__name__})")
    for report in reports:
        if report is not None and not report.is_file():
            raise RuntimeError(f"the gate flow ended without writing {report}")


def _gate_command(args: argparse.Namespace, server: TemporaryServer | None) -> int:
    from audit_core.gate.inputs import check_policy, load_policy, read_metrics
    from audit_core.gate.reports import markdown_summary
    from audit_core.results.artifacts import check_output_dir
    from audit_core.results.runs import resolve_previous

    config = _config(args)
    if args.policy is None and config.policy is None:
        raise ConfigError(
            "dynaudit gate needs a policy: pass --policy POLICY.yaml or add a 'policy:' section to "
            f"{args.config}."
        )
    policy = config.policy if args.policy is None else load_policy(args.policy)
    check_policy(policy, config)
    previous = None
    if args.previous is not None:
        previous = str(resolve_previous(args.previous, config.output_dir))
        read_metrics(previous)
    for report in (args.junit, args.summary):
        if report is not None:
            check_output_dir(report.parent)
    _check_inputs(config)
    from flows.gate import gate

    verdict = _run(
        gate,
        server,
        verbose=args.verbose,
        config=config,
        policy=policy,
        previous_metrics=previous,
        junit_path=args.junit,
        summary_path=args.summary,
    )
    _check_gate_written(verdict, args.junit, args.summary)
    print(markdown_summary(verdict, config.run_name))
    return EXIT_OK if verdict.passed else EXIT_POLICY_FAILED


def _check_command(args: argparse.Namespace, server: None) -> int:
    from audit_core.gate.inputs import check_policy, load_policy
    from flows.check import checked_lines

    config = _config(args)
    policy = config.policy if args.policy is None else load_policy(args.policy)
    if policy is not None:
        check_policy(policy, config)
    print("\n".join(checked_lines(args.config, config, _check_inputs(config), policy)))
    return EXIT_OK


def _runs_command(args: argparse.Namespace, server: None) -> int:
    from audit_core.config import parse_config
    from audit_core.core.locations import join
    from audit_core.results.runs import completed_runs, runs_table

    config = parse_config({"run_name": args.run_name, "output_dir": args.output_dir}, source="command line")
    runs = completed_runs(join(config.output_dir, config.run_name))
    if not runs:
        raise AuditInputError(
            f"No complete run of '{config.run_name}' under '{config.output_dir}'; expected the run_name of "
            "an audit written there."
        )
    print(f"Runs of {config.run_name} under {config.output_dir}, oldest first (the last is 'latest'):\n")
    print(runs_table(runs))
    return EXIT_OK


def _serve_command(args: argparse.Namespace, server: None) -> int:
    if args.limit < 1:
        raise AuditInputError(f"--limit {args.limit} is invalid; expected at least 1 flow run at a time.")
    _use_prefect_defaults()
    from flows.serve import serve_configs

    serve_configs(args.config_dir, pause_on_shutdown=args.pause_on_shutdown, limit=args.limit)
    return EXIT_OK


#: command -> what runs it, given the temporary Prefect server the commands that run a flow get
COMMANDS: dict[str, Callable[[argparse.Namespace, Any], int]] = {
    "demo": _audit_command,
    "audit": _audit_command,
    "tune": _tune_command,
    "gate": _gate_command,
    "check": _check_command,
    "runs": _runs_command,
    "serve": _serve_command,
}
RUN_A_FLOW = ("demo", "audit", "tune", "gate")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``dynaudit`` console script; returns the exit code."""
    args = _parser().parse_args(argv)
    stop_on_sigterm()
    show_each_warning_once()
    server = None
    try:
        if args.command in RUN_A_FLOW:  # first: the server starts while the command imports and checks
            server = _prepare_prefect(args.verbose)
        return COMMANDS[args.command](args, server)
    except AuditInputError as error:
        print(f"dynaudit: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("dynaudit: interrupted; no run folder was written.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BaseException as error:
        if not (isinstance(error, Terminated) or was_terminated()):
            return _unexpected_end(error)
        print("dynaudit: terminated (SIGTERM); no run folder was written.", file=sys.stderr)
        return EXIT_TERMINATED
    finally:
        if server is not None and not server.serving:  # no flow ran (bad input, say): stop it now
            server.stop()


def _unexpected_end(error: BaseException) -> int:
    """One sentence and exit 3 for an error that is neither bad input nor a signal."""
    if isinstance(error, Exception):  # an internal failure: say so briefly; Prefect has logged the details
        print(f"dynaudit: internal error: {type(error).__name__}: {error}", file=sys.stderr)
    else:  # SystemExit(0) from a model must not read as success
        print(
            f"dynaudit: the run stopped: {error!r} was raised inside it (by a model or other code it "
            "called), so it did not finish.",
            file=sys.stderr,
        )
    return EXIT_INTERNAL


def run() -> None:
    """The ``dynaudit`` console script: :func:`main`, then an exit that skips the interpreter's teardown
    (:mod:`flows.fast_exit`) with its exit code."""
    code = main()
    fast_exit.arm(code)
    sys.exit(code)


if __name__ == "__main__":
    run()

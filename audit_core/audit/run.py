"""The audit's one composition: the steps in the order they run, as plain calls or as Prefect tasks.

``run_audit`` and ``run_tuning`` are the only places that order the steps. Each step is a plain function
held by :class:`Steps`; the Prefect flows run these same functions with every step wrapped as a task
(``tasks/steps.py``), so the flow and a plain call compute the same numbers.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from audit_core.audit.assemble import assemble_result
from audit_core.audit.conditions import conditions, defender_data, evaluate_conditions
from audit_core.audit.inputs import load_audit_data
from audit_core.audit.models import (
    add_models,
    build_target,
    shadow_outputs,
    train_references,
    with_model_names,
)
from audit_core.audit.signals import Signals, reference_logits, target_signals
from audit_core.audit.split import split_for_tuning
from audit_core.audit.write import write_run_folder, write_tuning_folder
from audit_core.config import AuditConfig
from audit_core.core.locations import Location
from audit_core.data import AuditData, Split
from audit_core.defenses import DefenderData, Defense
from audit_core.results.provenance import run_provenance
from audit_core.results.summary import model_cache_line
from audit_core.results.tables import AuditResult
from audit_core.targets import Target
from audit_core.tuning.search import TuningError, TuningResult
from audit_core.tuning.step import tune_dynanoise


def _silent(message: str) -> None:
    """The plain path's progress messages go nowhere (the flow prints them into its log)."""


@dataclass(frozen=True)
class Steps:
    """The audit's steps, each a plain function; the flow swaps each for a Prefect task over the same one."""

    load_data: Callable[..., AuditData] = load_audit_data
    build_target: Callable[..., Target] = build_target
    query_target: Callable[..., Signals] = target_signals
    shadow_outputs: Callable[..., tuple[Any, dict[str, int]]] = shadow_outputs
    train_references: Callable[..., tuple[list[Target], Any, dict[str, int]]] = train_references
    query_references: Callable[..., Any] = reference_logits
    defender_data: Callable[..., DefenderData] = defender_data
    split: Callable[..., tuple[Signals, Signals]] = split_for_tuning
    tune: Callable[..., TuningResult] = tune_dynanoise
    conditions: Callable[..., list[Defense]] = conditions
    evaluate: Callable[..., list[Any]] = evaluate_conditions
    assemble: Callable[..., AuditResult] = assemble_result
    write: Callable[..., Location] = write_run_folder
    write_tuning: Callable[..., Location] = write_tuning_folder
    notify: Callable[[str], None] = _silent


PLAIN = Steps()


@dataclass(frozen=True)
class AuditInputs:
    """Everything computed before any defense runs: the data, the target, the logits, the defender's own
    outputs, the fingerprints and the model cache's counts per role."""

    data: AuditData
    target: Target
    signals: Signals
    defender: DefenderData
    fingerprints: dict[str, str]
    model_cache: dict[str, dict[str, int]]


@dataclass(frozen=True)
class AuditRun:
    """A finished audit: the result, the fitted conditions, the tuning (if any) and the run folder (None when
    the run was not written)."""

    result: AuditResult
    defenses: list[Defense]
    tuning: TuningResult | None
    run_dir: Location | None = None


def gather_inputs(
    config: AuditConfig,
    *,
    steps: Steps = PLAIN,
    data: AuditData | None = None,
    shadow_sets: tuple[Split, Split] | None = None,
) -> AuditInputs:
    """Load the data (``data`` replaces the config's), build and query the target, get the shadow and
    reference outputs (``shadow_sets``: the shadow models' (in, out) records, drawn by default) and the
    defender's own outputs."""
    data = steps.load_data(config) if data is None else data
    target = steps.build_target(config, data)
    signals = steps.query_target(target, data)
    fingerprints = {"data": data.fingerprint(), "target": target.fingerprint()}
    shadow, shadow_counts = steps.shadow_outputs(config, data, fingerprints, shadow_sets)
    references, in_mask, reference_counts = steps.train_references(config, data, fingerprints)
    model_cache = {"shadow": shadow_counts, "reference": reference_counts}
    steps.notify(model_cache_line(model_cache))
    reference_outputs = steps.query_references(references, in_mask, data)
    signals, fingerprints = add_models(signals, fingerprints, shadow, reference_outputs)
    defender = steps.defender_data(config, target, data, signals)
    return AuditInputs(data, target, signals, defender, fingerprints, model_cache)


def run_audit(
    config: AuditConfig,
    *,
    steps: Steps = PLAIN,
    data: AuditData | None = None,
    write: bool = False,
    previous_metrics: Location | None = None,
) -> AuditRun:
    """Audit one model, undefended and under each defense; with ``tune`` set, DynaNoise is first tuned on
    the tuning split, joins the conditions, and every condition is reported on the evaluation split (when no
    setting keeps the accuracy budget, the audit goes on with the configured defenses and warns why).
    ``write`` writes the run folder (with the policy's verdict, regressions against ``previous_metrics``).
    Secret references in environment variables are resolved here (the flows resolve Prefect blocks first)."""
    started_at = datetime.now(UTC)
    config, _opened = with_model_names(config.resolved())  # held: the model file is loaded once
    inputs = gather_inputs(config, steps=steps, data=data)
    tuning, untuned, audited = None, None, inputs.signals
    if config.tune is not None:
        tuning_part, audited = steps.split(config, inputs.signals)
        try:
            tuning = steps.tune(config, tuning_part, audited, inputs.defender)
        except TuningError as error:  # a finding about the model, not a reason to lose the audit ...
            if not config.defenses:  # ... unless the tuned DynaNoise was to be its one defense
                raise
            untuned = f"{error} The audit went on without a tuned DynaNoise."
    defenses = steps.conditions(config, inputs.defender, None if tuning is None else tuning.chosen)
    evaluations = steps.evaluate(config, audited, defenses)
    result = steps.assemble(
        config,
        inputs.data,
        audited,
        evaluations,
        inputs.fingerprints,
        inputs.model_cache,
        started_at,
        tuning,
        untuned,
    )
    run_dir = steps.write(config, result, defenses, tuning, previous_metrics) if write else None
    return AuditRun(result, defenses, tuning, run_dir)


def run_tuning(config: AuditConfig, *, steps: Steps = PLAIN) -> tuple[TuningResult, Location]:
    """Tune DynaNoise (``config.tune``, or the defaults) on the tuning split, confirm on the evaluation split,
    and write the tuning folder; return the result and that folder."""
    started_at = datetime.now(UTC)
    config, _opened = with_model_names(config.resolved())  # held: the model file is loaded once
    inputs = gather_inputs(config, steps=steps)
    tuning_part, evaluation = steps.split(config, inputs.signals)
    tuning = steps.tune(config, tuning_part, evaluation, inputs.defender)
    provenance = run_provenance(config, inputs.data, inputs.fingerprints, inputs.model_cache, started_at)
    return tuning, steps.write_tuning(config, tuning, provenance)

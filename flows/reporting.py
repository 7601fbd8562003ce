"""The audit's long steps with a progress bar in the terminal and a Prefect progress artifact each: the
DynaNoise trials of tuning and the conditions' evaluation."""

from collections.abc import Sequence

from audit_core.audit import conditions
from audit_core.audit.analysis import ConditionEvaluation
from audit_core.audit.signals import Signals
from audit_core.config import AuditConfig
from audit_core.defenses import DefenderData, Defense
from audit_core.tuning import step
from audit_core.tuning.search import TuningResult
from flows.progress import step_progress

#: Plain lines (logs, CI) at every quarter: a step of few items would otherwise log a line for each.
LOG_STEPS = 4


def tune_dynanoise(
    config: AuditConfig, tuning: Signals, evaluation: Signals, defender: DefenderData
) -> TuningResult:
    """DynaNoise tuned (:func:`audit_core.tuning.step.tune_dynanoise`), reporting each trial."""
    progress = step_progress("tuning-trials", config.run_name, "DynaNoise trials scored", log_steps=LOG_STEPS)
    return step.tune_dynanoise(config, tuning, evaluation, defender, on_trial_done=progress)


def evaluate_conditions(
    config: AuditConfig, signals: Signals, defenses: Sequence[Defense]
) -> list[ConditionEvaluation]:
    """Every condition evaluated (:func:`audit_core.audit.conditions.evaluate_conditions`), reporting each."""
    progress = step_progress("conditions", config.run_name, "Conditions evaluated", log_steps=LOG_STEPS)
    return conditions.evaluate_conditions(config, signals, defenses, on_done=progress)

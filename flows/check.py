"""``dynaudit check``: what the input check found, in a few lines, for a config that an audit could start."""

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported late by the command: these load torch and scikit-learn
    from audit_core.audit.inputs import CheckedInputs
    from audit_core.config import AuditConfig, GatePolicy


def _count(number: int, what: str) -> str:
    return f"{number:,} {what}"


def _names(checked: "CheckedInputs", shown: int = 5) -> str:
    """The class names the labels are read as, and where they came from, as a clause; empty without."""
    names = checked.class_names
    if names is None:
        return ""
    listed = ", ".join(str(n) for n in names[:shown]) + (", ..." if len(names) > shown else "")
    return f"; labels read as the names [{listed}] of {checked.names_from}"


def _columns(checked: "CheckedInputs") -> str:
    """Where a table's feature columns came from, as a clause, where the model named them; empty else."""
    return "" if checked.features_from is None else f"; features: {checked.features_from}"


def checked_lines(
    path: Path, config: "AuditConfig", checked: "CheckedInputs", policy: "GatePolicy | None"
) -> list[str]:
    """The lines ``dynaudit check`` prints: the config is ready, the data's records and classes, the models
    each role uses, the attacks, the defenses and the policy."""
    sizes = checked.sizes
    lines = [
        f"{path}: ready to audit (nothing was trained, run or written).",
        f"data: {_count(sizes['members'], 'members')}, {_count(sizes['non_members'], 'non-members')}, "
        f"{_count(sizes['population'], 'population')} and {_count(sizes['test'], 'test')} records of "
        f"{checked.n_classes} classes ({config.data.kind}{_names(checked)}{_columns(checked)})",
        f"target: {config.target.kind}; shadow: {config.shadow_kind}; reference models: "
        + (f"{config.reference_models} ({config.reference_kind})" if config.reference_models else "none"),
        f"attacks: {', '.join(config.attacks)} (one that lacks an input when the audit runs is skipped, "
        "and the report says why)",
    ]
    defenses = [d.name for d in config.defenses]
    if config.tune is not None:
        defenses.append(f"DynaNoise tuned ({config.tune.n_trials} trials, budget {config.tune.budget:g})")
    lines.append("defenses: " + (", ".join(defenses) or "none (undefended only)"))
    if policy is not None:
        limits = ", ".join(f"{name} {limit:g}" for name, limit in policy.limits.items())
        lines.append(f"policy: {limits} on condition '{policy.condition}'")
    return lines

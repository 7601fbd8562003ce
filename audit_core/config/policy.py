"""The gate policy: limits an audit's metrics must stay within (the gate checks them, the report states them).

Kept apart from :mod:`audit_core.gate.check` so that an audit config can carry a policy (``policy:``) without
a circular import.
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from audit_core.attacks import ATTACKS
from audit_core.core.knowledge import Knowledge
from audit_core.stats.names import Metric

# Policy field -> metric name in metrics.parquet, for the limits that take the worst case over attacks.
ATTACK_LIMITS = {
    "max_auc": Metric.AUC,
    "max_advantage": Metric.ADVANTAGE,
    "max_tpr_at_1pct_fpr": Metric.TPR_AT_FPR_0_01,
    "max_class_auc": Metric.AUC,
}
#: The attack limits that apply to each true class's records (``class=<label>`` rows), not to all of them.
CLASS_LIMITS = ("max_class_auc",)
LIMITS = (*ATTACK_LIMITS, "max_accuracy_drop")
#: The conditions a policy can aim at besides a defense named by its name or label.
CONDITION_CHOICES = ("chosen", "undefended", "any_defended")
#: What an undecided rule does to the verdict: fail it, pass it, or pass it with a warning.
Unresolved = Literal["fail", "pass", "warn"]


class GatePolicy(BaseModel):
    """Limits an audit must stay within for a model to pass; at least one limit must be set."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    condition: str = Field(
        "chosen",
        min_length=1,
        description="Outputs the limits apply to: chosen (the tuned or deployed defense: the tuned "
        "DynaNoise, else the first configured DynaNoise, else the first defense), undefended, any_defended "
        "(the worst over every defense), or one defense by its name (e.g. temperature) or condition label.",
    )
    knowledge: Literal[("strongest", *(k.value for k in Knowledge))] = Field(  # type: ignore[valid-type]
        "strongest",
        description="Attacker knowledge the attack limits apply to; strongest takes the worst over every "
        "knowledge the audit ran.",
    )
    attacks: list[str] | None = Field(
        None,
        min_length=1,
        description="Attacks the limits apply to (the worst counts); default: every attack the audit ran.",
        json_schema_extra={"items": {"type": "string", "enum": sorted(ATTACKS)}},
    )
    alpha: float = Field(
        0.05,
        gt=0,
        lt=0.5,
        description="Largest chance that the gate fails an audit whose values are all within the limits "
        "(family-wise, over every rule, attack, knowledge and condition it compares).",
    )
    unresolved: Unresolved = Field(
        "warn",
        description="What a rule the audit cannot decide does to the verdict: fail it (FAILED, exit 1), pass "
        "it (PASSED), or pass it with a warning (UNRESOLVED, exit 0).",
    )
    max_auc: float | None = Field(None, ge=0, le=1, description="Largest attack AUC allowed.")
    max_advantage: float | None = Field(
        None, ge=0, le=1, description="Largest attack advantage max(TPR - FPR) allowed."
    )
    max_tpr_at_1pct_fpr: float | None = Field(
        None, ge=0, le=1, description="Largest attack TPR at 1% FPR allowed."
    )
    max_class_auc: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Largest attack AUC allowed on the records of any one true class (its members against "
        "its non-members): a minority class can be exposed where the AUC over all records is not.",
    )
    max_accuracy_drop: float | None = Field(
        None, ge=0, le=1, description="Largest test-accuracy drop of a defended condition, vs undefended."
    )
    max_regression: float | None = Field(
        None,
        ge=0,
        description="With a previous run: fail when a limited value present in both runs is shown (by its "
        "bounds in both runs) to have risen by more than this; unset reports the changes without deciding.",
    )

    @field_validator("attacks")
    @classmethod
    def _attacks_are_registered(cls, names: list[str] | None) -> list[str] | None:
        unknown = [n for n in names or [] if n not in ATTACKS]
        if unknown:
            raise ValueError(f"unknown attack {unknown[0]!r}; expected one of {sorted(ATTACKS)}")
        return names

    @model_validator(mode="after")
    def _sets_a_limit(self) -> "GatePolicy":
        if all(getattr(self, name) is None for name in LIMITS):
            raise ValueError(f"sets no limit; expected at least one of {', '.join(LIMITS)}")
        if self.condition == "undefended" and self.max_accuracy_drop is not None:
            raise ValueError(
                "max_accuracy_drop limits a defense's cost, but condition 'undefended' has none; aim the "
                "policy at chosen, any_defended or a defense"
            )
        return self

    @property
    def limits(self) -> dict[str, float]:
        """The limits that are set, by policy field name."""
        return {name: getattr(self, name) for name in LIMITS if getattr(self, name) is not None}

    @property
    def reads_scores(self) -> bool:
        """Whether a rule limits the TPR at 1% FPR, whose bounds the gate reads from the audit's scores."""
        return Metric.TPR_AT_FPR_0_01 in {ATTACK_LIMITS.get(rule) for rule in self.limits}


def policy_mismatch(
    policy: GatePolicy, knowledge: list[str], attacks: list[str], conditions: list[tuple[str, str]]
) -> str | None:
    """The sentence saying which numbers ``policy`` asks for that an audit running ``knowledge`` and
    ``attacks`` on the defended ``conditions`` (``(defense name, condition label)`` pairs, the tuned
    DynaNoise included) will not produce; None when it asks for none."""
    if policy.knowledge != "strongest" and policy.knowledge not in knowledge:
        return (
            f"Policy knowledge '{policy.knowledge}' is not run by the config (knowledge: "
            f"{', '.join(knowledge)}); add it there or use 'strongest'."
        )
    missing = [a for a in policy.attacks or [] if a not in attacks]
    if missing:
        return f"Policy attack '{missing[0]}' is not run by the config; add it to the attacks."
    if policy.condition != "undefended" and not conditions:
        return (
            f"The policy checks condition '{policy.condition}', but the config lists no defenses and tunes "
            "none."
        )
    named = {name for pair in conditions for name in pair}
    if policy.condition not in (*CONDITION_CHOICES, *named):
        return (
            f"Policy condition '{policy.condition}' is no defense of the config; expected one of "
            f"{', '.join(CONDITION_CHOICES)} or a configured defense's name or label."
        )
    return None

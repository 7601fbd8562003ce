"""The ``tune:`` section: DynaNoise's search under an accuracy budget."""

from typing import Literal

from pydantic import (
    Field,
    ValidationInfo,
    field_validator,
)

from audit_core.config.base import Knowledge, KnowledgeField, StrictModel
from audit_core.defenses import NoiseMode


class TuneConfig(StrictModel):
    """Auto-tuning of DynaNoise's (sigma0_sq, lam, T) under an accuracy budget."""

    objective: Literal["midput", "worst_case_advantage", "tpr_at_1pct_fpr"] = Field(
        "midput",
        description="midput (maximised), or the strongest attack's advantage or TPR at 1% FPR (minimised).",
    )
    knowledge: KnowledgeField = Field(
        Knowledge.ADAPTIVE,
        title="Knowledge",  # pydantic titles a field by its name, except an enum's
        description="Attacker knowledge the objective is measured under.",
    )
    budget: float = Field(0.02, ge=0, le=1, description="Largest test-accuracy drop allowed (absolute).")
    mode: Literal["optuna", "grid"] = Field(
        "optuna", description="optuna: seeded TPE search; grid: the paper's one-at-a-time sweeps."
    )
    n_trials: int = Field(50, ge=1, le=10_000, description="Optuna trials (the grid mode runs its sweeps).")
    seed: int = Field(0, ge=0, description="Seed of the sampler and of the tuning/evaluation split.")
    tuning_fraction: float = Field(
        0.5, gt=0, lt=1, description="Share of audit and test points used to tune; the rest confirms."
    )
    trial_points: int = Field(
        1000,
        ge=50,
        description=(
            "Members, and as many non-members, of the tuning part that every candidate is scored on (a "
            "random subset where the part has more; every test point); the chosen points are confirmed on "
            "the whole evaluation part."
        ),
    )
    sigma0_sq_range: tuple[float, float] = Field((0.0, 1.0), description="Search range of sigma0_sq.")
    lam_range: tuple[float, float] = Field((0.0, 6.0), description="Search range of lam.")
    temperature_range: tuple[float, float] = Field((1.0, 20.0), description="Search range of T.")
    noise_mode: NoiseMode = Field("per_input", description="Noise mode of the tuned (deployable) defense.")
    baselines: bool = Field(True, description="Evaluate every baseline's grid on the same front.")

    @field_validator("sigma0_sq_range", "lam_range", "temperature_range")
    @classmethod
    def _range_is_ordered(cls, bounds: tuple[float, float], info: ValidationInfo) -> tuple[float, float]:
        low = 1e-6 if info.field_name == "temperature_range" else 0.0
        if not low <= bounds[0] <= bounds[1]:
            raise ValueError(f"must be [low, high] with {low:g} <= low <= high")
        return bounds

"""The ``defenses:`` list: one model per defense, its fields the defense's keyword arguments."""

from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    SecretStr,
    field_validator,
)

from audit_core.config.base import StrictModel
from audit_core.core.seeding import derive_key
from audit_core.defenses import MIN_KEY_BYTES


class _DefenseConfig(StrictModel):
    """A defense in the ``defenses:`` list; its fields are the keyword arguments of ``DEFENSES[name]``."""

    def defense_params(self, seed: int) -> dict[str, Any]:
        """Keyword arguments for the Defense; ``seed`` is the run seed (for derived secrets)."""
        return self.model_dump(exclude={"name"})


class DynaNoiseConfig(_DefenseConfig):
    """DynaNoise parameters; the defaults are the paper's best CIFAR-10 setting."""

    name: Literal["dynanoise"] = "dynanoise"
    sigma0_sq: float = Field(0.3, ge=0, description="Base noise variance on the logits.")
    lam: float = Field(2.0, ge=0, description="How much the noise grows with prediction confidence.")
    temperature: float = Field(10.0, gt=0, description="Softmax temperature of the released output.")
    noise_mode: Literal["per_query", "per_input"] = Field(
        "per_query",
        description="per_query: fresh noise on every call (the paper); per_input: noise keyed by the query, "
        "so repeating a query returns the same answer.",
    )
    ensemble_size: int = Field(1, ge=1, le=1000, description="Noisy softmax draws averaged per answer.")
    key: SecretStr | None = Field(
        None,
        description="Secret key for per_input noise (16+ characters); empty derives one from the run seed "
        "(fine for an audit, never for a deployment). Never written to any artifact.",
    )

    @field_validator("key")
    @classmethod
    def _key_is_long_enough(cls, key: SecretStr | None) -> SecretStr | None:
        if key is not None and len(key.get_secret_value().encode()) < MIN_KEY_BYTES:
            raise ValueError(f"must be at least {MIN_KEY_BYTES} bytes")
        return key

    def defense_params(self, seed: int) -> dict[str, Any]:
        params = super().defense_params(seed)
        params["key"] = self.key.get_secret_value().encode() if self.key else derive_key(seed, "dynanoise")
        return params


class StaticNoiseConfig(_DefenseConfig):
    """Gaussian noise of fixed variance on the logits (the static-noise comparator)."""

    name: Literal["static_noise"] = "static_noise"
    sigma_sq: float = Field(1.0, ge=0, description="Noise variance on the logits.")


class TemperatureConfig(_DefenseConfig):
    """Temperature scaling only: softmax(z / T)."""

    name: Literal["temperature"] = "temperature"
    temperature: float = Field(10.0, gt=0, description="Softmax temperature of the released output.")


class HampConfig(_DefenseConfig):
    """HAMP's output modification: the answer's ranking with a random input's confidence values."""

    name: Literal["hamp"] = "hamp"


class MemGuardConfig(_DefenseConfig):
    """MemGuard: label-preserving noise that fools the defender's own membership classifier."""

    name: Literal["memguard"] = "memguard"
    distortion_budget: float = Field(1.0, ge=0, le=2, description="Expected L1 distortion per answer.")
    max_iter: int = Field(300, ge=0, le=100_000, description="Gradient steps per batch of queries.")
    step_size: float = Field(0.1, gt=0, description="Adam step size on the logit noise.")
    label_weight: float = Field(10.0, ge=0, description="Penalty weight for changing the label.")
    distortion_weight: float = Field(0.1, ge=0, description="Penalty weight for L1 distortion.")


class ReverseSigmoidConfig(_DefenseConfig):
    """Reverse-sigmoid perturbation (Lee et al. 2019)."""

    name: Literal["reverse_sigmoid"] = "reverse_sigmoid"
    beta: float = Field(0.5, ge=0, description="Perturbation magnitude.")
    gamma: float = Field(1.0, gt=0, description="Slope of the sigmoid.")


class TopKConfig(_DefenseConfig):
    """Release the top-k probabilities only, optionally rounded."""

    name: Literal["top_k"] = "top_k"
    k: int | None = Field(3, ge=1, description="Probabilities kept (null keeps all).")
    decimals: int | None = Field(None, ge=0, le=15, description="Decimals kept (null: no rounding).")


class LabelOnlyConfig(_DefenseConfig):
    """Release only the predicted label (one-hot)."""

    name: Literal["label_only"] = "label_only"


DefenseConfig = Annotated[
    DynaNoiseConfig
    | StaticNoiseConfig
    | TemperatureConfig
    | HampConfig
    | MemGuardConfig
    | ReverseSigmoidConfig
    | TopKConfig
    | LabelOnlyConfig,
    Field(discriminator="name"),
]

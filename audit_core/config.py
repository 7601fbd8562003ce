"""The audit configuration: pydantic models shared by the YAML files, the CLI and the Prefect UI form."""

import inspect
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from audit_core.attacks import ATTACKS
from audit_core.errors import ConfigError

DEFAULT_ATTACKS = [
    "confidence",
    "loss",
    "entropy",
    "modified_entropy",
    "paper_confidence",
    "paper_loss",
    "shadow",
    "paper_lira",
    "lira_online",
    "lira_offline",
    "rmia",
    "label_only",
]
KNOWLEDGE_MODES = ("naive", "adaptive", "averaging")
Knowledge = Literal["naive", "adaptive", "averaging"]
_RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TrainingRecipe(_Strict):
    """How the target was trained; shadow and reference models are trained the same way."""

    architecture: str = Field(
        "mlp",
        pattern=r"^(mlp|[A-Za-z_][\w.]*:[A-Za-z_]\w*)$",
        description="'mlp', or 'package.module:factory' with factory(n_features=, n_classes=) -> nn.Module "
        "(code you name in your own config is imported and run).",
    )
    hidden_sizes: tuple[int, ...] = Field((256,), description="Widths of the MLP's hidden layers.")
    epochs: int = Field(200, ge=1, le=10_000, description="Passes over the training set.")
    batch_size: int = Field(32, ge=1, description="Mini-batch size.")
    optimizer: Literal["adam", "sgd"] = Field("adam", description="Optimizer.")
    learning_rate: float = Field(1e-3, gt=0, le=10, description="Learning rate.")
    momentum: float = Field(0.9, ge=0, lt=1, description="SGD momentum (ignored by Adam).")
    weight_decay: float = Field(0.0, ge=0, description="L2 penalty (0 trains a model that memorises).")


class DemoDataConfig(_Strict):
    """A data set shipped with scikit-learn, split at random into the four audit parts."""

    kind: Literal["demo"] = "demo"
    dataset: Literal["digits"] = Field("digits", description="scikit-learn data set.")
    n_members: int = Field(150, ge=2, description="Records that train the target.")
    n_non_members: int = Field(150, ge=2, description="Held-out records of the same distribution.")
    n_population: int = Field(600, ge=4, description="Records for the attacker's shadow models.")
    split_seed: int = Field(0, ge=0, description="Seed of the random split.")


class TrainedTargetConfig(_Strict):
    """dynaudit trains the target itself on the member set with ``recipe`` (the demo's target)."""

    kind: Literal["trained"] = "trained"


class DynaNoiseConfig(_Strict):
    """DynaNoise parameters; the defaults are the paper's best CIFAR-10 setting."""

    name: Literal["dynanoise"] = "dynanoise"
    sigma0_sq: float = Field(0.3, ge=0, description="Base noise variance on the logits.")
    lam: float = Field(2.0, ge=0, description="How much the noise grows with prediction confidence.")
    temperature: float = Field(10.0, gt=0, description="Softmax temperature of the released output.")


DefenseConfig = Annotated[DynaNoiseConfig, Field(discriminator="name")]


class AuditConfig(_Strict):
    """One audit: what to attack, with which defenses and attacks, and where to write the results."""

    run_name: str = Field("demo", description="Names the output folder out/<run_name>/.")
    seed: int = Field(0, ge=0, description="Master seed; every random draw derives from it.")
    data: DemoDataConfig = Field(default_factory=DemoDataConfig)
    target: TrainedTargetConfig = Field(default_factory=TrainedTargetConfig)
    recipe: TrainingRecipe = Field(default_factory=TrainingRecipe)
    defenses: list[DefenseConfig] = Field(default_factory=lambda: [DynaNoiseConfig()])
    attacks: list[str] = Field(default_factory=lambda: list(DEFAULT_ATTACKS), min_length=1)
    attack_params: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Hyperparameters per attack name, e.g. {rmia: {gamma: 2.0}}."
    )
    knowledge: list[Knowledge] = Field(
        default_factory=lambda: list(KNOWLEDGE_MODES),
        min_length=1,
        description="Attacker knowledge: naive (calibrates on undefended outputs, the paper's protocol), "
        "adaptive (calibrates on defended outputs), averaging (adaptive, and averages repeated queries).",
    )
    max_queries: int = Field(
        64, ge=1, le=4096, description="Largest query budget of the averaging attacker (doubling from 1)."
    )
    shadow_models: int = Field(1, ge=1, le=64, description="Shadow models, all trained on one shadow set.")
    reference_models: int = Field(
        8,
        ge=0,
        le=1024,
        description="Reference models for LiRA and RMIA: complementary pairs over the audit points (even).",
    )
    trainer: Literal["batched", "processes", "loop"] = Field(
        "batched",
        description="How shadow/reference models train: together as one vectorised computation (batched), "
        "in worker processes with one thread each (processes), or one after another (loop); all three "
        "give the same models.",
    )
    cache_dir: Path | None = Field(
        Path(".dynaudit-cache"),
        description="Where trained shadow/reference models are cached; null disables.",
    )
    output_dir: Path = Field(Path("out"), description="Folder that receives the run folder.")
    id_salt: str = Field(
        "",
        description="Secret salt for the hashed record ids in the artifacts; empty uses the data "
        "fingerprint. Never written to any artifact.",
    )

    @field_validator("run_name")
    @classmethod
    def _run_name_is_a_folder_name(cls, value: str) -> str:
        if not _RUN_NAME.match(value):
            raise ValueError(
                "must be 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit "
                "(no path separators)"
            )
        return value

    @field_validator("reference_models")
    @classmethod
    def _references_come_in_pairs(cls, count: int) -> int:
        if count % 2 or count == 2:
            raise ValueError("must be 0 or an even number of at least 4 (complementary pairs, leave-one-out)")
        return count

    @model_validator(mode="after")
    def _attack_params_fit_their_attacks(self) -> "AuditConfig":
        for name, params in self.attack_params.items():
            if name not in self.attacks:
                raise ValueError(f"attack_params names {name!r}, which is not in attacks")
            accepted = set(inspect.signature(ATTACKS[name]).parameters)
            unknown = sorted(set(params) - accepted)
            if unknown:
                raise ValueError(
                    f"attack_params.{name} has unknown parameter {unknown[0]!r}; {name} takes "
                    f"{', '.join(sorted(accepted)) or 'no parameters'}"
                )
        return self

    @field_validator("attacks")
    @classmethod
    def _attacks_are_registered(cls, names: list[str]) -> list[str]:
        unknown = [n for n in names if n not in ATTACKS]
        if unknown:
            raise ValueError(f"unknown attack {unknown[0]!r}; expected one of {sorted(ATTACKS)}")
        if len(set(names)) != len(names):
            raise ValueError("lists an attack more than once")
        return names


def _describe(error: ValidationError, source: str) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "(top level)"
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        return f"{source}: unknown field '{where}'; check its spelling against the AuditConfig fields."
    if first["type"] == "missing":
        return f"{source}: required field '{where}' is missing."
    if not first["loc"]:
        return f"{source}: {message}."
    value = first.get("input")
    shown = "" if isinstance(value, dict | list) else f" = {value!r}"
    return f"{source}: field '{where}'{shown} is invalid: {message}."


def parse_config(raw: Any, source: str = "config") -> AuditConfig:
    """Validate a mapping into an :class:`AuditConfig`, raising :class:`ConfigError` with one sentence."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping of AuditConfig fields, got {type(raw).__name__}.")
    try:
        return AuditConfig.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(_describe(error, source)) from None


def load_config(path: str | Path) -> AuditConfig:
    """Read and validate a YAML audit configuration."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"Config file '{path}' does not exist; expected a YAML file with an AuditConfig.")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"Config file '{path}' is not valid YAML{where}.") from None
    return parse_config(raw, source=str(path))

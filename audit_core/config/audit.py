"""The whole audit configuration (``AuditConfig``) and reading it from YAML."""

import hashlib
import inspect
import re
import typing
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    PlainValidator,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from audit_core.attacks import ATTACKS
from audit_core.config.base import (
    Knowledge,
    KnowledgeField,
    StrictModel,
    load_model,
    parse_model,
)
from audit_core.config.data import DataConfig, DemoDataConfig
from audit_core.config.defenses import DefenseConfig, DynaNoiseConfig
from audit_core.config.policy import GatePolicy, policy_mismatch
from audit_core.config.recipe import TrainingRecipe
from audit_core.config.references import AutoModelsConfig, ReferencesConfig, ShadowConfig, resolved_kind
from audit_core.config.runtime import RunnerConfig, ScheduleConfig, ThreadsRunnerConfig
from audit_core.config.secrets import BlockReader, EnvSecret, Secret, empty_is_none, resolve_secret
from audit_core.config.targets import TargetConfig, TrainedTargetConfig
from audit_core.config.tune import TuneConfig
from audit_core.core.devices import DeviceSetting, resolve_device
from audit_core.core.locations import Location, parse_location

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
    "qmia",
    "label_only",
    "augmentation",
    "boundary",
]
_NOT_IN_DIGEST = {
    "run_name",
    "cache_dir",
    "output_dir",
    "keep",
    "id_salt",
    "schedule",
    "policy",
    "runner",
    "device",
    "storage_credentials",
}
RUN_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
_RUN_NAME = re.compile(RUN_NAME_PATTERN)


class AuditConfig(StrictModel):
    """One audit: what to attack, with which defenses and attacks, and where to write the results."""

    run_name: str = Field(
        "demo",
        description="Names the folder of its runs, out/<run_name>/: 1-100 letters, digits, '.', '_' or '-'.",
        json_schema_extra={"pattern": RUN_NAME_PATTERN},  # the form and the server refuse others at once
    )
    seed: int = Field(0, ge=0, description="Master seed; every random draw derives from it.")
    data: DataConfig = Field(
        default_factory=DemoDataConfig,
        description="The four audit parts, by kind: demo, table, npz, image_folder, cifar10 or imagenet.",
    )
    target: TargetConfig = Field(
        default_factory=TrainedTargetConfig,
        description="The audited model, by kind: trained (by dynaudit, the demo), torch_script, "
        "torch_state_dict, sklearn, onnx, callable or predictions.",
    )
    shadow: ShadowConfig = Field(
        default_factory=AutoModelsConfig,
        description="The attacker's shadow model, by kind: auto (the target's own kind), clone, "
        "architecture, function, trained (dynaudit's recipe), predictions (precomputed) or none.",
    )
    references: ReferencesConfig = Field(
        default_factory=AutoModelsConfig,
        description="What the reference models are, by kind: auto (the target's own kind), clone (of a "
        "scikit-learn target), architecture (of a state dict target), function (your training code), "
        "predictions (outputs you computed) or recipe (dynaudit's network).",
    )
    recipe: TrainingRecipe = Field(default_factory=TrainingRecipe)
    defenses: list[DefenseConfig] = Field(default_factory=lambda: [DynaNoiseConfig()])
    tune: TuneConfig | None = Field(
        None, description="Tune DynaNoise under an accuracy budget and audit the tuned setting too."
    )
    attacks: list[str] = Field(
        default_factory=lambda: list(DEFAULT_ATTACKS),
        min_length=1,
        description="Attacks to run, each at most once.",
        json_schema_extra={"items": {"type": "string", "enum": sorted(ATTACKS)}},
    )
    attack_params: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Hyperparameters per attack name, e.g. {rmia: {gamma: 2.0}}."
    )
    knowledge: list[KnowledgeField] = Field(
        default_factory=lambda: list(Knowledge),
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
        description="Reference models for LiRA and RMIA: complementary pairs over the audit points (0 or "
        "an even number of at least 4).",
        json_schema_extra={"multipleOf": 2, "not": {"const": 2}},  # the form and the server refuse others
    )
    trainer: Literal["batched", "processes", "loop"] = Field(
        "batched",
        description="How shadow/reference models train: together as one vectorised computation (batched), "
        "in worker processes with one thread each (processes), or one after another (loop). All three give "
        "the same models bit for bit for the built-in MLP; a recipe's own architecture trains batched by "
        "vmap, the same models up to float32 rounding.",
    )
    runner: RunnerConfig = Field(
        default_factory=ThreadsRunnerConfig,
        description="Where reference models train, by kind: threads (this process, the default) or dask "
        "(a Dask cluster; the numbers are the same).",
    )
    device: DeviceSetting = Field(
        "auto",
        description="Where models train and answer queries: auto (a GPU when torch sees one), cpu or cuda. "
        "On the CPU the numbers do not depend on it; a GPU gives the same models up to float32 rounding.",
    )
    cache_dir: Path | None = Field(
        Path(".dynaudit-cache"),
        description="Where trained shadow/reference models are cached; null disables.",
    )
    output_dir: Annotated[Location, PlainValidator(parse_location), WithJsonSchema({"type": "string"})] = (
        Field(
            Path("out"),
            description="Where runs are kept, as output_dir/run_name/<run id>/ with a 'latest' pointer: a "
            "folder, or an s3://, gs:// or az:// URL (credentials from the environment, never from here).",
        )
    )
    storage_credentials: str | None = Field(
        None,
        description="Name of a Prefect Secret block holding the object store's credentials as a JSON object "
        "of environment variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, ...); empty: the environment's.",
    )
    keep: int | None = Field(
        None, ge=1, description="Keep only the newest this many runs of run_name; empty keeps every run."
    )
    id_salt: Secret | None = Field(
        None,
        description="Secret key of the record ids in the artifacts (HMAC-SHA256), or a reference resolved "
        "when the run starts: {env: NAME} or {prefect_secret: BLOCK}. The same key gives the same ids in "
        "every run; empty draws a random key per run that is never written anywhere. Never written to any "
        "artifact.",
    )
    schedule: ScheduleConfig | None = Field(
        None, description="When `dynaudit serve` runs this config on its own; `dynaudit audit` ignores it."
    )
    policy: GatePolicy | None = Field(
        None,
        description="Limits the report's summary states a verdict against (the fields of a gate policy file; "
        "`dynaudit gate --policy` replaces them).",
    )

    @property
    def model_label(self) -> str:
        """Short name of the audited model: its file's stem, or its kind (and architecture if trained)."""
        for value in self.target.model_dump().values():
            if isinstance(value, Path):
                return value.stem
        if self.target.kind == "trained":
            return f"trained-{self.recipe.architecture.rpartition(':')[2]}"
        return self.target.kind

    @property
    def digest(self) -> str:
        """8 hex digits of the SHA-256 of every setting that shapes the numbers (not the run name, folders,
        keep, salt, schedule, policy, runner or device, nor classes or features read from the model): two runs
        with the same digest audited alike."""
        config, as_given = self, {}  # what the model's file names, as given
        if getattr(self.data, "classes_read_from_model", False):
            as_given["classes"] = None
        if getattr(self.data, "features_named_by", None) is not None:
            as_given["features"] = None
        if as_given:
            config = self.model_copy(update={"data": self.data.model_copy(update=as_given)})
        settings = config.model_dump_json(exclude=_NOT_IN_DIGEST)
        return hashlib.sha256(settings.encode()).hexdigest()[:8]

    @property
    def run_label(self) -> str:
        """``<run_name>-<model>-<digest>`` names Prefect runs."""
        return f"{self.run_name}-{self.model_label}-{self.digest}"

    @property
    def defended_conditions(self) -> list[tuple[str, str]]:
        """``(defense name, condition label)`` of every defended condition the audit will have (the tuned
        DynaNoise's label is only known after tuning, so it enters by its name)."""
        conditions = [(d.name, d.defense(self.seed).label) for d in self.defenses]
        return conditions + ([("dynanoise", "dynanoise")] if self.tune is not None else [])

    @field_validator("run_name")
    @classmethod
    def _run_name_is_a_folder_name(cls, value: str) -> str:
        if not _RUN_NAME.match(value):
            raise ValueError(
                "must be 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit "
                "(no path separators)"
            )
        return value

    @field_validator("id_salt", mode="before")
    @classmethod
    def _empty_salt_is_none(cls, value: Any) -> Any:
        return empty_is_none(value)

    def check_environment_secrets(self) -> None:
        """Refuse now, before any work, a secret named by an environment variable that is not set (a Prefect
        Secret block is read when the run starts, from the server the run uses)."""
        named = [("id_salt", self.id_salt)] + [
            (f"defenses.{i}.key", d.key)
            for i, d in enumerate(self.defenses)
            if isinstance(d, DynaNoiseConfig)
        ]
        for where, value in named:
            if isinstance(value, EnvSecret):
                resolve_secret(value, where)

    def resolved(self, read_block: BlockReader | None = None) -> "AuditConfig":
        """This config with every secret reference replaced by the secret (``read_block`` reads Prefect
        Secret blocks); secrets in clear stay as they are."""
        update: dict[str, Any] = {}
        if self.id_salt is not None:
            update["id_salt"] = resolve_secret(self.id_salt, "id_salt", read_block)
        defenses = [
            d.with_key(resolve_secret(d.key, f"defenses.{i}.key", read_block), f"defenses.{i}")
            if isinstance(d, DynaNoiseConfig) and d.key is not None
            else d
            for i, d in enumerate(self.defenses)
        ]
        return self.model_copy(update={**update, "defenses": defenses})

    @field_validator("device")
    @classmethod
    def _cuda_needs_a_gpu(cls, setting: DeviceSetting) -> DeviceSetting:
        if setting == "cuda" and resolve_device("auto") != "cuda":
            raise ValueError("torch sees no GPU on this machine; use auto (a GPU when there is one) or cpu")
        return setting

    @field_validator("reference_models")
    @classmethod
    def _references_come_in_pairs(cls, count: int) -> int:
        if count % 2 or count == 2:
            raise ValueError("must be 0 or an even number of at least 4 (complementary pairs, leave-one-out)")
        return count

    @property
    def reference_kind(self) -> str:
        """The references' model kind, ``auto`` resolved for this target."""
        return resolved_kind(self.references.kind, self.target.kind, "references.kind")

    @property
    def shadow_kind(self) -> str:
        """The shadow's kind, ``auto`` resolved for this target."""
        return resolved_kind(self.shadow.kind, self.target.kind, "shadow.kind")

    @model_validator(mode="after")
    def _models_suit_the_target(self) -> "AuditConfig":
        if self.reference_models:
            self.reference_kind  # noqa: B018 (raises when the kind does not fit the target)
        self.shadow_kind  # noqa: B018
        return self

    @model_validator(mode="after")
    def _trainer_suits_the_runner(self) -> "AuditConfig":
        if self.runner.kind == "dask" and self.trainer == "processes":
            raise ValueError(
                "trainer 'processes' cannot run on Dask workers, which may not start processes of their own; "
                "use trainer 'batched' or 'loop' with runner.kind 'dask'"
            )
        return self

    @model_validator(mode="after")
    def _defenses_are_distinct_conditions(self) -> "AuditConfig":
        """Each defense's label names its condition in every table, so no two entries may share one."""
        first: dict[str, int] = {}
        for index, entry in enumerate(self.defenses):
            try:
                label = entry.condition_label(self.seed)
            except ValueError as error:  # a setting the defense itself refuses
                raise ValueError(f"defenses.{index}: {error}") from None
            earlier = first.setdefault(label, index)
            if earlier == index:
                continue
            if entry == self.defenses[earlier]:
                raise ValueError(f"defenses.{index} repeats defenses.{earlier} ({label})")
            raise ValueError(
                f"defenses.{index} has the same label as defenses.{earlier} ({label}), which names a "
                "condition in every table; make them differ in a parameter the label shows"
            )
        return self

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
            hints = typing.get_type_hints(ATTACKS[name].__init__)
            for key, value in params.items():
                try:
                    TypeAdapter(hints.get(key, Any)).validate_python(value, strict=True)
                except ValidationError:
                    expected = getattr(hints[key], "__name__", None) or str(hints[key])
                    given = type(value).__name__
                    raise ValueError(
                        f"attack_params.{name}.{key} = {value!r} is a {given}; expected {expected}"
                    ) from None
            try:
                ATTACKS[name](**params).check()
            except ValueError as error:
                raise ValueError(f"attack_params.{name}: {str(error).rstrip('.')}") from None
        return self

    @model_validator(mode="after")
    def _policy_fits_the_audit(self) -> "AuditConfig":
        if self.policy is not None:
            problem = policy_mismatch(self.policy, self.knowledge, self.attacks, self.defended_conditions)
            if problem is not None:
                raise ValueError(problem.rstrip("."))
        return self

    @field_validator("knowledge")
    @classmethod
    def _knowledge_once_each(cls, modes: list[Knowledge]) -> list[Knowledge]:
        if len(set(modes)) != len(modes):
            raise ValueError("lists an attacker knowledge more than once")
        return modes

    @field_validator("attacks")
    @classmethod
    def _attacks_are_registered(cls, names: list[str]) -> list[str]:
        unknown = [n for n in names if n not in ATTACKS]
        if unknown:
            raise ValueError(f"unknown attack {unknown[0]!r}; expected one of {sorted(ATTACKS)}")
        if len(set(names)) != len(names):
            raise ValueError("lists an attack more than once")
        return names


def parse_config(raw: Any, source: str = "config") -> AuditConfig:
    """Validate a mapping into an :class:`AuditConfig`, raising :class:`ConfigError` with one sentence."""
    return parse_model(AuditConfig, raw, source)


def load_config(path: str | Path) -> AuditConfig:
    """Read and validate a YAML audit configuration."""
    return load_model(AuditConfig, path, "Config file")

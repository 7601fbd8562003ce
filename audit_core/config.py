"""The audit configuration: pydantic models shared by the YAML files, the CLI and the Prefect UI form."""

import functools
import hashlib
import inspect
import operator
import re
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    SecretStr,
    Tag,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from audit_core.attacks import ATTACKS
from audit_core.defenses import MIN_KEY_BYTES
from audit_core.errors import ConfigError
from audit_core.policy import GatePolicy, policy_mismatch
from audit_core.seeding import derive_key

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
M = TypeVar("M", bound=BaseModel)
_NOT_IN_DIGEST = {"run_name", "cache_dir", "output_dir", "id_salt", "schedule", "policy", "runner"}
_RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_CRON = re.compile(r"^\S+( \S+){4}$")
_SCHEDULER_ADDRESS = re.compile(r"^(tcp|tls)://\S+:\d+$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def kinds(default: str, *models: type[BaseModel]) -> Any:
    """A union of ``models`` told apart by their ``kind`` field; a mapping without ``kind`` is ``default``
    (so configs written before a section had kinds stay valid)."""

    def kind(value: Any) -> str:
        return value.get("kind", default) if isinstance(value, dict) else getattr(value, "kind", default)

    tagged = [Annotated[m, Tag(m.model_fields["kind"].default)] for m in models]
    return Annotated[functools.reduce(operator.or_, tagged), Discriminator(kind)]


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
    dataset: Literal["digits", "breast_cancer", "wine", "synthetic"] = Field(
        "digits",
        description="scikit-learn data set: digits (8x8 images), a tabular one, or synthetic (a fixed "
        "make_classification set, 6000 x 20, 10 classes).",
    )
    n_members: int = Field(150, ge=2, description="Records that train the target.")
    n_non_members: int = Field(150, ge=2, description="Held-out records of the same distribution.")
    n_population: int = Field(600, ge=4, description="Records for the attacker's shadow models.")
    split_seed: int = Field(0, ge=0, description="Seed of the random split.")


class _PartFiles(_Strict):
    """One file (or folder) per audit part."""

    members: Path = Field(description="Records that trained the target.")
    non_members: Path = Field(description="Records of the same distribution the target never saw.")
    population: Path = Field(description="Further records the attacker may use for shadow models.")
    test: Path = Field(description="Records that measure the model's accuracy under each defense.")
    n_classes: int | None = Field(None, ge=2, description="Number of classes; default: largest label + 1.")


class TableDataConfig(_PartFiles):
    """Parquet (.parquet) or CSV (.csv) tables: one row per record."""

    kind: Literal["table"] = "table"
    label: str = Field("label", description="Column with the integer class label.")
    id: str | None = Field(None, description="Column with a unique record id; default: file and row number.")
    features: list[str] | None = Field(
        None, min_length=1, description="Feature columns in model input order; default: all other columns."
    )


class NpzDataConfig(_PartFiles):
    """NumPy ``.npz`` archives (no pickled objects): one per part, with named arrays."""

    kind: Literal["npz"] = "npz"
    features_key: str = Field("x", description="Array of records, shape (n, ...).")
    labels_key: str = Field("y", description="Array of integer labels, shape (n,).")
    ids_key: str | None = Field(None, description="Optional array of unique record ids, shape (n,).")


class ImageTransformConfig(_Strict):
    """How images become model inputs: resize, crop, channels, then per-channel normalisation."""

    resize: int | None = Field(None, ge=1, description="Resize the shorter side to this many pixels.")
    center_crop: int | None = Field(None, ge=1, description="Crop a centred square of this size.")
    grayscale: bool = Field(False, description="Convert to one channel.")
    mean: list[float] | None = Field(None, min_length=1, description="Per-channel mean to subtract.")
    std: list[float] | None = Field(None, min_length=1, description="Per-channel standard deviation.")

    @model_validator(mode="after")
    def _mean_and_std_together(self) -> "ImageTransformConfig":
        if (self.mean is None) != (self.std is None) or (self.mean and len(self.mean) != len(self.std)):
            raise ValueError("mean and std must be given together, with one value per channel each")
        if self.std and min(self.std) <= 0:
            raise ValueError("std values must be positive")
        return self


CIFAR10_TRANSFORM = ImageTransformConfig(mean=[0.4914, 0.4822, 0.4465], std=[0.2470, 0.2435, 0.2616])
IMAGENET_TRANSFORM = ImageTransformConfig(
    resize=256, center_crop=224, mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]
)


class ImageFolderDataConfig(_PartFiles):
    """torchvision ImageFolder layout per part: ``<part folder>/<class name>/<image file>``."""

    kind: Literal["image_folder"] = "image_folder"
    transform: ImageTransformConfig = Field(default_factory=ImageTransformConfig)


class PoolDraw(_Strict):
    """Records drawn at random, without replacement, from one pool of a standard data set."""

    pool: str = Field(description="Pool name, e.g. train or test (CIFAR-10), train or val (ImageNet).")
    count: int | None = Field(None, ge=1, description="How many records; default: all that remain.")


class _PooledParts(_Strict):
    """Audit parts drawn from a data set's own partition (train/test); parts draw in the order listed."""

    root: Path = Field(description="Local folder with the data set (nothing is downloaded).")
    members: PoolDraw = Field(description="Records the target trained on (a sample of them is enough).")
    non_members: PoolDraw = Field(description="Records the target never saw.")
    population: PoolDraw = Field(description="The attacker's records for shadow models.")
    test: PoolDraw = Field(description="Records that measure accuracy.")
    split_seed: int = Field(0, ge=0, description="Seed of the random draws.")


class Cifar10DataConfig(_PooledParts):
    """CIFAR-10's python batches (``data_batch_1..5``, ``test_batch``); pools ``train`` and ``test``."""

    kind: Literal["cifar10"] = "cifar10"
    transform: ImageTransformConfig = Field(default_factory=lambda: CIFAR10_TRANSFORM)


class ImageNetDataConfig(_PooledParts):
    """ImageNet-style class folders: ``root/train`` and ``root/val`` (pools ``train``, ``val``), or class
    folders directly under ``root`` (one pool ``all``, like the paper's ImageNet-10)."""

    kind: Literal["imagenet"] = "imagenet"
    classes: list[str] | None = Field(
        None, min_length=2, description="Class folders to use (e.g. ten wnids); default: all of them."
    )
    transform: ImageTransformConfig = Field(default_factory=lambda: IMAGENET_TRANSFORM)


DataConfig = kinds(
    "demo",
    DemoDataConfig,
    TableDataConfig,
    NpzDataConfig,
    ImageFolderDataConfig,
    Cifar10DataConfig,
    ImageNetDataConfig,
)


# --- targets: the audited model, and the attacker's shadow model -----------------------------------------

ImportPath = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_.]*$",
        description="Python object as package.module:name; dynaudit imports and runs it.",
    ),
]
OutputKind = Literal["logits", "probabilities"]


class TrainedTargetConfig(_Strict):
    """dynaudit trains the target itself on the member set with ``recipe`` (the demo's target)."""

    kind: Literal["trained"] = "trained"


class _QueriedModel(_Strict):
    """Options shared by model files dynaudit queries in batches."""

    output: OutputKind = Field("logits", description="What the model returns per class.")
    batch_size: int = Field(256, ge=1, description="Records per model call.")


class TorchScriptTargetConfig(_QueriedModel):
    """A TorchScript file (``torch.jit.save``)."""

    kind: Literal["torch_script"] = "torch_script"
    path: Path = Field(description="TorchScript file.")


class TorchStateDictTargetConfig(_QueriedModel):
    """A state dict (``.pt``/``.pth``, loaded with ``weights_only=True``, or ``.safetensors``) plus the code
    that builds the empty network."""

    kind: Literal["torch_state_dict"] = "torch_state_dict"
    weights: Path = Field(description="State dict file: .pt, .pth or .safetensors.")
    architecture: ImportPath = Field(
        description="Factory returning the torch.nn.Module, package.module:name."
    )
    architecture_kwargs: dict[str, Any] = Field(default_factory=dict, description="Keyword arguments.")


class SklearnTargetConfig(_Strict):
    """A fitted scikit-learn classifier with ``predict_proba``: skops (``.skops``) or, with consent, a
    pickle (``.joblib``, ``.pkl``, ``.pickle``)."""

    kind: Literal["sklearn"] = "sklearn"
    path: Path = Field(description="Model file.")
    trusted_types: list[str] = Field(
        default_factory=list, description="Extra types to trust in a skops file, e.g. mypkg.MyScaler."
    )
    trust_pickle: bool = Field(
        False, description="Allow joblib/pickle files, which run arbitrary code when loaded."
    )


class OnnxTargetConfig(_QueriedModel):
    """An ONNX model run by onnxruntime on the CPU; its first input receives the records."""

    kind: Literal["onnx"] = "onnx"
    path: Path = Field(description="ONNX file.")
    output_name: str | None = Field(None, description="Model output to read; default: the first.")


class CallableTargetConfig(_QueriedModel):
    """A Python function from a batch of records (numpy array) to logits or probabilities (n, k)."""

    kind: Literal["callable"] = "callable"
    function: ImportPath = Field(description="The function, package.module:name.")
    files: list[Path] = Field(
        default_factory=list, description="Files the function reads (weights, vocabularies); fingerprinted."
    )


class _PredictionTable(_Strict):
    """A Parquet table of precomputed outputs: one row per record, one column per class."""

    path: Path = Field(description="Parquet file.")
    id_column: str = Field("id", description="Column with the record ids of the audit data.")
    columns: list[str] | None = Field(
        None, min_length=2, description="Per-class output columns in class order; default: all others."
    )
    output: OutputKind = Field("logits", description="What the columns hold.")


class PredictionsTargetConfig(_PredictionTable):
    """A black-box audit: the target's outputs on the audit records, precomputed."""

    kind: Literal["predictions"] = "predictions"


TargetConfig = kinds(
    "trained",
    TrainedTargetConfig,
    TorchScriptTargetConfig,
    TorchStateDictTargetConfig,
    SklearnTargetConfig,
    OnnxTargetConfig,
    CallableTargetConfig,
    PredictionsTargetConfig,
)


class TrainedShadowConfig(_Strict):
    """dynaudit trains one shadow model with ``recipe`` on population records (needs numeric features)."""

    kind: Literal["trained"] = "trained"


class PredictionsShadowConfig(_PredictionTable):
    """Reference models' outputs, precomputed: each row also says whether the record trained that model."""

    kind: Literal["predictions"] = "predictions"
    in_training_column: str = Field("in_training", description="Boolean column: the record trained it.")


class NoShadowConfig(_Strict):
    """No shadow model: attacks that calibrate on shadow outputs are skipped."""

    kind: Literal["none"] = "none"


ShadowConfig = kinds("trained", TrainedShadowConfig, PredictionsShadowConfig, NoShadowConfig)


class _DefenseConfig(_Strict):
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

#: The demo's defenses: DynaNoise at the paper's setting and every baseline at a representative setting.
DEMO_DEFENSES: list[dict[str, Any]] = [
    {"name": "dynanoise", "sigma0_sq": 0.3, "lam": 2.0, "temperature": 10.0},
    {"name": "static_noise", "sigma_sq": 1.0},
    {"name": "temperature", "temperature": 10.0},
    {"name": "hamp"},
    {"name": "memguard", "distortion_budget": 1.0},
    {"name": "reverse_sigmoid", "beta": 0.5, "gamma": 1.0},
    {"name": "top_k", "k": 3, "decimals": 2},
    {"name": "label_only"},
]


class TuneConfig(_Strict):
    """Auto-tuning of DynaNoise's (sigma0_sq, lam, T) under an accuracy budget."""

    objective: Literal["midput", "worst_case_advantage", "tpr_at_1pct_fpr"] = Field(
        "midput",
        description="midput (maximised), or the strongest attack's advantage or TPR at 1% FPR (minimised).",
    )
    knowledge: Knowledge = Field(
        "adaptive", description="Attacker knowledge the objective is measured under."
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
    sigma0_sq_range: tuple[float, float] = Field((0.0, 1.0), description="Search range of sigma0_sq.")
    lam_range: tuple[float, float] = Field((0.0, 6.0), description="Search range of lam.")
    temperature_range: tuple[float, float] = Field((1.0, 20.0), description="Search range of T.")
    noise_mode: Literal["per_query", "per_input"] = Field(
        "per_input", description="Noise mode of the tuned (deployable) defense."
    )
    baselines: bool = Field(True, description="Evaluate every baseline's grid on the same front.")

    @field_validator("sigma0_sq_range", "lam_range", "temperature_range")
    @classmethod
    def _range_is_ordered(cls, bounds: tuple[float, float], info: ValidationInfo) -> tuple[float, float]:
        low = 1e-6 if info.field_name == "temperature_range" else 0.0
        if not low <= bounds[0] <= bounds[1]:
            raise ValueError(f"must be [low, high] with {low:g} <= low <= high")
        return bounds


class ScheduleConfig(_Strict):
    """When ``dynaudit serve`` runs this audit: a cron expression read in a time zone."""

    cron: str = Field(
        description="Five-field cron expression (minute hour day month weekday), e.g. '0 2 * * *' for "
        "02:00 every day."
    )
    timezone: str = Field("UTC", description="IANA time zone the cron expression is read in.")
    active: bool = Field(True, description="False registers the schedule paused.")

    @field_validator("cron")
    @classmethod
    def _cron_has_five_fields(cls, value: str) -> str:
        value = " ".join(value.split())
        if not _CRON.match(value):
            raise ValueError("must have five fields: minute hour day-of-month month day-of-week")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone_is_known(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("must be an IANA time zone name such as UTC or Europe/Berlin") from None
        return value


class ThreadsRunnerConfig(_Strict):
    """Reference models train in the flow's own process, one group after another (Prefect's thread pool)."""

    kind: Literal["threads"] = "threads"


class DaskRunnerConfig(_Strict):
    """Reference models train as Prefect tasks on a Dask cluster: the scheduler at ``address``, or else a
    local cluster of ``n_workers`` processes started for the run."""

    kind: Literal["dask"] = "dask"
    address: str | None = Field(
        None,
        description="Address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786; empty starts a "
        "local cluster.",
    )
    n_workers: int | None = Field(
        None, ge=1, le=1024, description="Local cluster: worker processes; empty gives one per CPU core."
    )
    threads_per_worker: int = Field(1, ge=1, le=256, description="Local cluster: threads per worker.")

    @field_validator("address")
    @classmethod
    def _address_names_a_scheduler(cls, address: str | None) -> str | None:
        if address is not None and not _SCHEDULER_ADDRESS.match(address):
            raise ValueError("must be a Dask scheduler address such as tcp://10.0.0.5:8786")
        return address

    @model_validator(mode="after")
    def _address_or_local_cluster(self) -> "DaskRunnerConfig":
        local = self.model_fields_set & {"n_workers", "threads_per_worker"}
        if self.address is not None and local:
            raise ValueError(
                f"give either address (an existing scheduler) or {' and '.join(sorted(local))} (a local "
                "cluster), not both"
            )
        return self


RunnerConfig = kinds("threads", ThreadsRunnerConfig, DaskRunnerConfig)


class AuditConfig(_Strict):
    """One audit: what to attack, with which defenses and attacks, and where to write the results."""

    run_name: str = Field("demo", description="Names the output folder out/<run_name>/.")
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
        default_factory=TrainedShadowConfig,
        description="The attacker's shadow model: trained like the target, precomputed predictions, or none.",
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
    runner: RunnerConfig = Field(
        default_factory=ThreadsRunnerConfig,
        description="Where reference models train, by kind: threads (this process, the default) or dask "
        "(a Dask cluster; the numbers are the same).",
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
    def run_label(self) -> str:
        """``<run_name>-<model>-<digest>`` names Prefect runs; the digest covers every setting that shapes the
        numbers (not the run name, folders, salt or schedule)."""
        settings = self.model_dump_json(exclude=_NOT_IN_DIGEST)
        return f"{self.run_name}-{self.model_label}-{hashlib.sha256(settings.encode()).hexdigest()[:8]}"

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
    def _trainer_suits_the_runner(self) -> "AuditConfig":
        if self.runner.kind == "dask" and self.trainer == "processes":
            raise ValueError(
                "trainer 'processes' cannot run on Dask workers, which may not start processes of their own; "
                "use trainer 'batched' or 'loop' with runner.kind 'dask'"
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
        return self

    @model_validator(mode="after")
    def _policy_fits_the_audit(self) -> "AuditConfig":
        if self.policy is not None:
            problem = policy_mismatch(self.policy, self.knowledge, self.attacks, bool(self.defenses))
            if problem is not None:
                raise ValueError(problem.rstrip("."))
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


#: The embedded demo (``dynaudit demo``, configs/demo.yaml): 300 members and 300 non-members of the digits
#: (half of each tunes DynaNoise, half is audited), DynaNoise at the paper's setting and every baseline,
#: DynaNoise tuned under a 2-point accuracy budget, and the limits of policies/ci.yaml for the verdict.
DEMO_SETTINGS: dict[str, Any] = {
    "data": {"kind": "demo", "dataset": "digits", "n_members": 300, "n_non_members": 300},
    "defenses": DEMO_DEFENSES,
    "tune": {"budget": 0.02},
    "policy": {"max_auc": 0.6, "max_advantage": 0.25, "max_tpr_at_1pct_fpr": 0.05, "max_accuracy_drop": 0.05},
}


def _describe(error: ValidationError, source: str) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "(top level)"
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        return f"{source}: unknown field '{where}'; check its spelling against the {error.title} fields."
    if first["type"] == "missing":
        return f"{source}: required field '{where}' is missing."
    if not first["loc"]:
        return f"{source}: {message}."
    value = first.get("input")
    shown = "" if isinstance(value, dict | list) else f" = {value!r}"
    return f"{source}: field '{where}'{shown} is invalid: {message}."


def parse_model(model: type[M], raw: Any, source: str) -> M:
    """Validate a mapping into ``model``, raising :class:`ConfigError` with one sentence."""
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{source}: expected a mapping of {model.__name__} fields, got {type(raw).__name__}."
        )
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(_describe(error, source)) from None


def load_model(model: type[M], path: str | Path, what: str) -> M:
    """Read a YAML file and validate it into ``model``; ``what`` names the file in error messages."""
    path = Path(path)
    if not path.is_file():
        article = "an" if model.__name__[0] in "AEIOU" else "a"
        raise ConfigError(
            f"{what} '{path}' does not exist; expected a YAML file with {article} {model.__name__}."
        )
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{what} '{path}' is not valid YAML{where}.") from None
    return parse_model(model, raw, source=str(path))


def parse_config(raw: Any, source: str = "config") -> AuditConfig:
    """Validate a mapping into an :class:`AuditConfig`, raising :class:`ConfigError` with one sentence."""
    return parse_model(AuditConfig, raw, source)


def load_config(path: str | Path) -> AuditConfig:
    """Read and validate a YAML audit configuration."""
    return load_model(AuditConfig, path, "Config file")

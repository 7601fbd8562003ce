"""The ``target:`` and ``shadow:`` sections: the audited model and the attacker's shadow model."""

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    field_validator,
)

from audit_core.config.base import StrictModel, kinds
from audit_core.core.probability import OutputKind

ImportPath = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_.]*$",
        description="Python object as package.module:name; dynaudit imports and runs it.",
    ),
]
#: Tensor types a torch target takes its records in.
TorchInputType = Literal["float32", "int64"]


class TrainedTargetConfig(StrictModel):
    """dynaudit trains the target itself on the member set with ``recipe`` (the demo's target)."""

    kind: Literal["trained"] = "trained"


DEFAULT_TIMEOUT_S = 300.0  # one model call (a batch): minutes for a large network on a CPU, not a hang


class _AnsweringModel(StrictModel):
    """A model dynaudit calls: each call bounded in time."""

    timeout_s: float = Field(
        DEFAULT_TIMEOUT_S,
        gt=0,
        le=86_400,
        description="Seconds one model call (a batch of records) may take before the audit stops.",
    )


class _QueriedModel(_AnsweringModel):
    """Options shared by model files dynaudit queries in batches."""

    output: OutputKind = Field(
        "logits",
        description="What the model returns per class: logits, or probabilities (a softmax at its end); "
        "shadow and reference models of its architecture or training function return the same.",
    )
    batch_size: int = Field(256, ge=1, description="Records per model call.")


class _TorchModel(_QueriedModel):
    """Options shared by the torch kinds."""

    input_dtype: TorchInputType = Field(
        "float32",
        description="Tensor type of the records the network takes: float32, or int64 for whole numbers such "
        "as token ids or category codes (an embedding's indices); the label-only query attacks, which move "
        "records by small amounts, are then skipped.",
    )


class TorchScriptTargetConfig(_TorchModel):
    """A TorchScript file (``torch.jit.save``), loaded only with ``trust_code: true``."""

    kind: Literal["torch_script"] = "torch_script"
    path: Path = Field(description="The TorchScript model file.")
    trust_code: bool = Field(
        False,
        validate_default=True,
        description="Allow loading the TorchScript file, whose code runs on this machine when loaded and "
        "called (it can read and write files).",
    )

    @field_validator("trust_code")
    @classmethod
    def _consented(cls, trust_code: bool) -> bool:
        if not trust_code:
            raise ValueError(
                "a TorchScript file runs its own code when loaded and called, which can read and write files "
                "on this machine; set target.trust_code: true only if you trust its author, or export the "
                "model to ONNX (kind: onnx), which runs as a graph of tensor operations"
            )
        return trust_code


class TorchStateDictTargetConfig(_TorchModel):
    """A state dict (``.pt``/``.pth``/``.ckpt``, loaded with ``weights_only=True``, or ``.safetensors``) plus
    the code that builds the empty network."""

    kind: Literal["torch_state_dict"] = "torch_state_dict"
    weights: Path = Field(
        description="The state dict file: .pt, .pth, .ckpt (a training checkpoint) or .safetensors."
    )
    architecture: ImportPath = Field(
        description="The factory that returns the torch.nn.Module, package.module:name."
    )
    architecture_kwargs: dict[str, Any] = Field(default_factory=dict, description="Keyword arguments.")


class SklearnTargetConfig(_AnsweringModel):
    """A fitted scikit-learn classifier with ``predict_proba``: skops (``.skops``) or, with consent, a
    pickle (``.joblib``, ``.pkl``, ``.pickle``)."""

    kind: Literal["sklearn"] = "sklearn"
    path: Path = Field(description="The model file: .skops, or .joblib/.pkl read only with trust_pickle.")
    trusted_types: list[str] = Field(
        default_factory=list, description="Extra types to trust in a skops file, e.g. mypkg.MyScaler."
    )
    trust_pickle: bool = Field(
        False, description="Allow joblib/pickle files, which run arbitrary code when loaded."
    )


class OnnxTargetConfig(_QueriedModel):
    """An ONNX model run by onnxruntime on the CPU; its first input receives the records."""

    kind: Literal["onnx"] = "onnx"
    path: Path = Field(description="The ONNX model file.")
    output_name: str | None = Field(
        None, description="Model output holding the per-class scores; default: the first float output."
    )


class CallableTargetConfig(_QueriedModel):
    """A Python function from a batch of records (numpy array) to logits or probabilities (n, k)."""

    kind: Literal["callable"] = "callable"
    function: ImportPath = Field(description="The function, package.module:name.")
    files: list[Path] = Field(
        default_factory=list, description="Files the function reads (weights, vocabularies); fingerprinted."
    )


class _PredictionTable(StrictModel):
    """A Parquet table of precomputed outputs: one row per record, one column per class."""

    path: Path = Field(description="The Parquet file of those outputs.")
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


class TrainedShadowConfig(StrictModel):
    """dynaudit trains its own network with ``recipe`` as the shadow model (needs numeric features)."""

    kind: Literal["trained"] = "trained"


class PredictionsShadowConfig(_PredictionTable):
    """Reference models' outputs, precomputed: each row also says whether the record trained that model."""

    kind: Literal["predictions"] = "predictions"
    in_training_column: str = Field("in_training", description="Boolean column: the record trained it.")


class NoShadowConfig(StrictModel):
    """No shadow model: attacks that calibrate on shadow outputs are skipped."""

    kind: Literal["none"] = "none"

"""An ONNX model as the target, run by onnxruntime on the CPU; the records feed its first input, and its
scores are read from ``output_name`` or else its first float output (a converted scikit-learn classifier's
first output holds the labels)."""

import numpy as np
import onnxruntime as ort

from audit_core.config import OnnxTargetConfig
from audit_core.core.errors import TargetError, brief
from audit_core.core.files import sha256_file
from audit_core.core.paths import existing_file
from audit_core.targets.base import ModelTarget

# ONNX input element type -> numpy dtype the records are cast to
INPUT_TYPES = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(string)": object,
}

#: ONNX output element types that can hold per-class scores (logits or probabilities)
SCORE_TYPES = frozenset({"tensor(float)", "tensor(double)", "tensor(float16)"})


class OnnxTarget(ModelTarget):
    """Runs one onnxruntime session; a fixed batch dimension in the model caps the batch size."""

    def __init__(self, session: ort.InferenceSession, config: OnnxTargetConfig, *, digest: str) -> None:
        source = f"target.path '{config.path}'"
        inputs = session.get_inputs()
        if len(inputs) > 1:
            raise TargetError(
                f"{source} takes {len(inputs)} inputs ({', '.join(i.name for i in inputs)}); expected one, "
                "which the records feed (export the model with its other inputs fixed inside, e.g. a text "
                "model's attention mask computed from its token ids)."
            )
        model_input = inputs[0]
        if model_input.type not in INPUT_TYPES:
            raise TargetError(
                f"{source} takes {model_input.type} input; expected one of {sorted(INPUT_TYPES)}."
            )
        outputs = {o.name: o.type for o in session.get_outputs()}
        scores = [name for name, kind in outputs.items() if kind in SCORE_TYPES]
        if config.output_name is not None and config.output_name not in outputs:
            raise TargetError(
                f"target.output_name: {config.output_name!r} is not an output of '{config.path}'; expected "
                f"one of {list(outputs)}."
            )
        if config.output_name is None and not scores:
            raise TargetError(
                f"{source} has no float output to read per-class scores from (its outputs: {outputs}); "
                "expected logits or probabilities as a float tensor (a scikit-learn model converted with a "
                "ZipMap: convert it with zipmap=False)."
            )
        output_name = config.output_name or scores[0]
        if outputs[output_name] not in SCORE_TYPES:
            raise TargetError(
                f"target.output_name: output {output_name!r} of '{config.path}' holds "
                f"{outputs[output_name]}, not per-class scores; expected one of its float outputs "
                f"{scores or '(none)'}."
            )
        dims = list(model_input.shape)
        fixed_batch = dims[0] if isinstance(dims[0], int) and dims[0] > 0 else None
        shape = tuple(dims[1:]) if all(isinstance(d, int) for d in dims[1:]) else None
        super().__init__(
            source=source,
            digest=digest,
            output=config.output,
            batch_size=min(config.batch_size, fixed_batch or config.batch_size),
            input_shape=shape,
        )
        self.session = session
        self.input_name = model_input.name
        self.input_dtype = INPUT_TYPES[model_input.type]
        self.integer_inputs = np.dtype(self.input_dtype).kind == "i"
        self.output_name = output_name

    def predict(self, batch: np.ndarray) -> np.ndarray:
        feed = {self.input_name: np.asarray(batch, dtype=self.input_dtype)}
        return self.session.run([self.output_name], feed)[0]


def open_onnx(config: OnnxTargetConfig) -> OnnxTarget:
    """Start a CPU inference session; the fingerprint is the file's SHA-256."""
    path = existing_file(config.path, "target.path", "an ONNX model file")
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only
    try:
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises its own exception types for invalid models
        raise TargetError(
            f"target.path: '{path}' is not a readable ONNX model ({brief(error)}); "
            "expected a valid .onnx file."
        ) from None
    return OnnxTarget(session, config, digest=sha256_file(path))

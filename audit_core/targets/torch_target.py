"""A torch ``nn.Module`` as an audit target."""

import hashlib

import numpy as np
import torch
from torch import nn

from audit_core.config import TorchInputType
from audit_core.targets.base import ModelTarget, OutputKind

TORCH_TYPES: dict[str, torch.dtype] = {"float32": torch.float32, "int64": torch.int64}


class NetworkOutputError(TypeError):
    """A network returned something other than its per-class scores."""


def class_scores(outputs: object) -> torch.Tensor:
    """A network's per-class scores: the tensor it returns, or the ``logits`` tensor of the output object a
    Hugging Face classifier returns; a tuple or anything else is refused, not guessed at."""
    if isinstance(outputs, torch.Tensor):
        return outputs
    logits = getattr(outputs, "logits", None)
    if isinstance(logits, torch.Tensor):
        return logits
    raise NetworkOutputError(type(outputs).__name__)


def parameter_digest(module: nn.Module) -> str:
    """SHA-256 over the module's state dict (names and tensor bytes), in order."""
    digest = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


class TorchTarget(ModelTarget):
    """Wraps a torch classifier; queries it in eval mode, in batches, without gradients, on inputs of
    ``input_dtype`` (float32, or int64 for token ids and category codes, which must be whole numbers).

    The fingerprint is ``digest`` when given (the SHA-256 of the model file), else the parameters' digest.
    """

    def __init__(
        self,
        module: nn.Module,
        *,
        batch_size: int = 1024,
        source: str = "The torch model",
        digest: str | None = None,
        output: OutputKind = "logits",
        input_dtype: TorchInputType = "float32",
    ) -> None:
        super().__init__(
            source=source, digest=digest or parameter_digest(module), output=output, batch_size=batch_size
        )
        self.module = module
        self.input_dtype = input_dtype
        self.integer_inputs = input_dtype != "float32"

    def to(self, device: str) -> "TorchTarget":
        """Move the model to ``device`` (a torch device name); queries then run there. Returns ``self``."""
        self.module.to(device)
        return self

    def predict(self, batch: np.ndarray) -> np.ndarray:
        self.module.eval()
        device = next(self.module.parameters(), torch.empty(0)).device
        with torch.no_grad():
            inputs = torch.tensor(batch, dtype=TORCH_TYPES[self.input_dtype], device=device)
            return class_scores(self.module(inputs)).double().cpu().numpy()

    def _failure(self, cause: BaseException, batch: np.ndarray) -> str:
        if isinstance(cause, NetworkOutputError):
            return (
                f"{self.source} returned a {cause} instead of a tensor of per-class scores; expected forward "
                "to return the logits (or probabilities, with output: probabilities), or an object with a "
                "logits tensor as Hugging Face classifiers return."
            )
        return super()._failure(cause, batch)

    def _advice(self, cause: BaseException, batch: np.ndarray) -> str:
        if not self.integer_inputs and "indices" in str(cause) and "Long" in str(cause):
            return (
                "the network takes integer indices (an embedding's); set target.input_dtype: int64 for "
                "records of token ids or category codes"
            )
        floating = {p.dtype for p in self.module.parameters() if p.is_floating_point()} - {torch.float32}
        if not self.integer_inputs and floating and "dtype" in str(cause).lower():
            return (
                f"the network's parameters are {', '.join(sorted(map(str, floating)))} and its inputs "
                "torch.float32: build it with float32 parameters (without .double() or .half())"
            )
        return channel_advice(self.module, batch.shape[1:]) or super()._advice(cause, batch)


def channel_advice(module: nn.Module, record_shape: tuple[int, ...]) -> str | None:
    """What to change when records of ``record_shape`` lack the channel axis that ``module``'s first
    convolution takes first, hold it last (images saved height, width, channels), or have another number of
    channels; None otherwise."""
    convolution = next((m for m in module.modules() if isinstance(m, nn.modules.conv._ConvNd)), None)
    if convolution is None:
        return None
    channels, spatial = convolution.in_channels, len(convolution.kernel_size)
    name = type(convolution).__name__
    if len(record_shape) == spatial:
        shape = _shape(channels, *record_shape)
        return (
            f"the network's {name} takes a channel axis first, which the records lack: save them as {shape}"
        )
    if len(record_shape) != spatial + 1 or record_shape[0] == channels:
        return None
    if record_shape[-1] == channels:
        return (
            f"the records hold their {channels} channels last, and the network's {name} takes them first: "
            f"save them transposed to {_shape(channels, *record_shape[:-1])}"
        )
    have = f"{record_shape[0]} channel{'' if record_shape[0] == 1 else 's'}"
    return (
        f"the records have {have} and the network's {name} takes {channels}: give it images of that many "
        "channels (an image folder's transform.grayscale makes one)"
    )


def _shape(*dims: int) -> str:
    """A batch's shape as the sentences write it: ``(n, 3, 32, 32)``."""
    return f"({', '.join(map(str, ('n', *dims)))})"

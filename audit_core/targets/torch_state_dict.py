"""A torch state dict plus the factory that builds the network. ``.pt``/``.pth``/``.ckpt`` files are read
with ``torch.load(weights_only=True)`` (tensors and plain containers only, no code); ``.safetensors`` with
safetensors."""

import json
import re
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from audit_core.config import TorchStateDictTargetConfig
from audit_core.core.errors import TargetError, brief
from audit_core.core.files import sha256_file
from audit_core.core.imports import import_object
from audit_core.core.paths import existing_file, suffix_of
from audit_core.core.user_code import UserCodeError, call_user_code
from audit_core.targets.base import combined_digest
from audit_core.targets.torch_target import TorchTarget

FIELD = "target.weights"


#: PyTorch Lightning's dict of hyper-parameters, as its checkpoints name it: read as a plain dict (Lightning's
#: class is neither needed nor run), so that a ``.ckpt`` loads with ``weights_only=True``.
LIGHTNING_DICTS = (
    "lightning.fabric.utilities.data.AttributeDict",
    "pytorch_lightning.utilities.parsing.AttributeDict",
)


def _torch_file(path: Path) -> dict[str, torch.Tensor]:
    try:
        with torch.serialization.safe_globals([(dict, name) for name in LIGHTNING_DICTS]):
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # weights_only refusals are UnpicklingError; corrupt files raise others
        refused = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(error))
        if refused:
            reason = f"it holds more than tensors, a {refused.group(1)} object, whose code is not run here"
        elif "weights_only" in str(error):
            reason = "it holds more than tensors (a pickled model?)"
        else:
            reason = "unreadable"
        raise TargetError(
            f"{FIELD}: '{path}' cannot be loaded with weights_only=True: {reason}; expected a state dict "
            "saved with torch.save(model.state_dict(), path), or a .safetensors file."
        ) from None


def _safetensors_file(path: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(path, device="cpu")
    except (SafetensorError, OSError) as error:
        raise TargetError(f"{FIELD}: '{path}' is not a readable safetensors file ({brief(error)}).") from None


READERS: dict[str, Callable[[Path], dict[str, torch.Tensor]]] = {
    ".pt": _torch_file,
    ".pth": _torch_file,
    ".ckpt": _torch_file,  # a training checkpoint (PyTorch Lightning's): the network's entry is found in it
    ".safetensors": _safetensors_file,
}


def open_torch_state_dict(config: TorchStateDictTargetConfig) -> TorchTarget:
    """Build the network with ``architecture(**architecture_kwargs)`` and load the weights strictly.

    The fingerprint covers the weights file's SHA-256, the factory's name and its keyword arguments.
    """
    path = existing_file(config.weights, FIELD, "a state dict file (.pt, .pth, .ckpt or .safetensors)")
    state = READERS[suffix_of(path, READERS, FIELD, "a state dict")](path)
    if not isinstance(state, dict):
        raise TargetError(f"{FIELD}: '{path}' holds a {type(state).__name__}; expected a state dict.")
    factory = import_object(config.architecture, "target.architecture")
    try:
        module = call_user_code(factory, **config.architecture_kwargs)
    except UserCodeError as failure:  # the user's factory
        error = failure.cause
        raise TargetError(
            f"target.architecture: {config.architecture}(**target.architecture_kwargs) raised "
            f"{type(error).__name__}: {brief(error)}; expected it to build the network."
        ) from None
    if not isinstance(module, nn.Module):
        raise TargetError(
            f"target.architecture: {config.architecture} returned a {type(module).__name__}; expected a "
            "torch.nn.Module."
        )
    state = _network_weights(module, state)
    missing, unexpected = _key_mismatch(module, state)
    if missing or unexpected:
        raise TargetError(
            f"{FIELD}: '{path}' does not fit {config.architecture}: missing keys {missing[:3]}, unexpected "
            f"keys {unexpected[:3]}; expected the state dict of that architecture."
        )
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise TargetError(
            f"{FIELD}: '{path}' does not fit {config.architecture} ({brief(error)}); "
            "expected tensors of the architecture's shapes."
        ) from None
    kwargs = json.dumps(config.architecture_kwargs, sort_keys=True, default=str)
    return TorchTarget(
        module,
        batch_size=config.batch_size,
        source=f"target.architecture {config.architecture} with weights '{path}'",
        digest=combined_digest(sha256_file(path), config.architecture, kwargs),
        output=config.output,
        input_dtype=config.input_dtype,
    )


def _network_weights(module: nn.Module, state: dict) -> dict:
    """The state dict of ``module`` in a file's ``state``: the state itself or one of its entries (a training
    checkpoint's ``model_state_dict``, PyTorch Lightning's ``state_dict``), with a prefix that every key of it
    carries taken off (DataParallel's ``module.``, ``torch.compile``'s ``_orig_mod.``, the attribute of a
    LightningModule that holds the network, ``model.``, or several of these); unchanged where none fits, for
    the caller to say what does not."""
    expected = set(module.state_dict())
    one = min(expected, default="")  # the prefix is what precedes it in the key that ends with it
    for candidate in (state, *(value for value in state.values() if isinstance(value, dict))):
        keys = [key for key in candidate if isinstance(key, str)]
        for prefix in {"", *(key.removesuffix(one) for key in keys if key.endswith("." + one))}:
            if len(keys) == len(candidate) == len(expected) and all(key.startswith(prefix) for key in keys):
                unwrapped = {key.removeprefix(prefix): value for key, value in candidate.items()}
                if set(unwrapped) == expected:
                    return unwrapped
    return state


def _key_mismatch(module: nn.Module, state: dict) -> tuple[list[str], list[str]]:
    expected = set(module.state_dict())
    return sorted(expected - set(state)), sorted(set(state) - expected)

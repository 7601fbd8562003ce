"""Ship the defense that was audited: wrap a torch model, export it, save and load tuned parameters.

>>> import secrets, tempfile
>>> from torch import nn
>>> defense = DynaNoise(noise_mode="per_input", key=secrets.token_bytes(32))
>>> model = DefendedModel(nn.Linear(4, 3), defense)          # inputs -> defended probabilities
>>> bool(torch.allclose(model(torch.ones(2, 4)).sum(dim=1), torch.ones(2, dtype=torch.float64)))
True

Neither the parameters file (``dynanoise-params.json``: the tuned parameters and how they were chosen) nor an
exported TorchScript file holds the secret key of ``per_input`` mode: pass the key from your secret store to
:func:`load_params` or :func:`load_torchscript`.

>>> path = export_torchscript(model, tempfile.mkdtemp() + "/defended.pt")
>>> defense.key in Path(path).read_bytes()
False
>>> served = load_torchscript(path, key=defense.key)
>>> bool(torch.equal(served(torch.ones(2, 4)), model(torch.ones(2, 4))))
True
"""

import contextlib
import copy
import json
import os
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from audit_core.core.errors import ConfigError
from audit_core.core.probability import PROBABILITY_FLOOR, OutputKind
from audit_core.defenses import MIN_KEY_BYTES, DynaNoise
from audit_core.defenses.torch_dynanoise import TorchDynaNoise, key_tensor, logits_of_probabilities

PARAMS_FILE = "dynanoise-params.json"
PARAMS_SCHEMA = "dynaudit/dynanoise-params"
PARAMS_SCHEMA_VERSION = 1
_PARAMS = ("sigma0_sq", "lam", "temperature", "noise_mode", "ensemble_size")


class DefendedModel(nn.Module):
    """``model`` followed by DynaNoise: inputs in, defended probabilities (float64) out. ``output`` says what
    ``model`` returns, as the audit's ``target.output`` did: probabilities (a softmax at its end) become the
    logits the audit read before DynaNoise applies."""

    def __init__(self, model: nn.Module, defense: DynaNoise, output: OutputKind = "logits") -> None:
        super().__init__()
        self.model = model
        self.defense = TorchDynaNoise(defense)
        self.probabilities = output == "probabilities"
        self.probability_floor = PROBABILITY_FLOOR

    def forward(self, inputs: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        outputs = self.model(inputs)
        if not isinstance(outputs, torch.Tensor):  # a Hugging Face classifier's output object, run eagerly
            outputs = outputs.logits
        if self.probabilities:
            outputs = logits_of_probabilities(outputs, self.defense.per_input, self.probability_floor)
        return self.defense(outputs, generator)


def _atomic_write(path: Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(temporary_path)`` next to ``path``, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(handle)
    try:
        write(Path(temporary))
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


@contextlib.contextmanager
def _torchscript() -> Iterator[None]:
    """torch 2.14 marks TorchScript deprecated in favour of torch.export; it still works, so stay quiet."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*torch\.jit.*deprecated", category=FutureWarning)
        yield


def _without_keys(module: nn.Module) -> nn.Module:
    """A copy of ``module`` whose DynaNoise layers hold no key."""
    stripped = copy.deepcopy(module)
    for layer in stripped.modules():
        if isinstance(layer, TorchDynaNoise):
            layer.key = key_tensor(b"")
    return stripped


def export_torchscript(module: nn.Module, path: str | Path) -> Path:
    """Compile ``module`` (e.g. a :class:`DefendedModel`) in eval mode with TorchScript and save it without
    DynaNoise's key: ``per_input`` mode takes it again in :func:`load_torchscript`."""
    with _torchscript():
        scripted = torch.jit.script(_without_keys(module).eval())
        return _atomic_write(Path(path), lambda tmp: torch.jit.save(scripted, str(tmp)))


def load_torchscript(path: str | Path, key: bytes = b"") -> torch.jit.ScriptModule:
    """Load a module saved by :func:`export_torchscript` and give its ``per_input`` DynaNoise layers ``key``
    (required there; importing this module registers the operator they call)."""
    with _torchscript():
        module = torch.jit.load(str(path))
    for layer in module.modules():
        if getattr(layer, "original_name", None) != TorchDynaNoise.__name__ or not layer.per_input:
            continue
        if len(key) < MIN_KEY_BYTES:
            raise ConfigError(
                f"'{path}' uses per_input DynaNoise, whose key is never exported; pass key= (at least "
                f"{MIN_KEY_BYTES} bytes) from your secret store."
            )
        layer.key = key_tensor(key)
    return module


def save_params(path: str | Path, defense: DynaNoise, provenance: dict[str, Any] | None = None) -> Path:
    """Write ``defense``'s parameters (without its key) and ``provenance`` as versioned JSON, atomically."""
    document = {
        "schema": PARAMS_SCHEMA,
        "schema_version": PARAMS_SCHEMA_VERSION,
        "defense": DynaNoise.name,
        "params": {name: getattr(defense, name) for name in _PARAMS},
        "provenance": provenance or {},
    }
    text = json.dumps(document, indent=2) + "\n"
    return _atomic_write(Path(path), lambda tmp: tmp.write_text(text, encoding="utf-8"))


def load_params(path: str | Path, key: bytes = b"") -> DynaNoise:
    """The :class:`DynaNoise` a parameters file describes; ``key`` is required for ``per_input`` mode."""
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"Parameters file '{path}' does not exist.") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ConfigError(f"Parameters file '{path}' is not valid JSON.") from None
    if not isinstance(document, dict) or document.get("schema") != PARAMS_SCHEMA:
        raise ConfigError(f"'{path}' is not a dynaudit DynaNoise parameters file (schema {PARAMS_SCHEMA!r}).")
    if document.get("schema_version") != PARAMS_SCHEMA_VERSION:
        raise ConfigError(
            f"'{path}' has schema_version {document.get('schema_version')!r}; this dynaudit reads version "
            f"{PARAMS_SCHEMA_VERSION}."
        )
    params = document.get("params")
    if not isinstance(params, dict) or set(params) != set(_PARAMS):
        raise ConfigError(f"'{path}': field 'params' must have exactly the keys {list(_PARAMS)}.")
    try:
        return DynaNoise(**params, key=key)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"'{path}': {error}") from None

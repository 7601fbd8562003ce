"""A TorchScript file as the target (``torch.jit.save`` output), opened only with ``target.trust_code: true``:
its code runs when loaded and called, and TorchScript can read and write files."""

import warnings

import torch

from audit_core.config import TorchScriptTargetConfig
from audit_core.core.errors import TargetError, brief
from audit_core.core.files import sha256_file
from audit_core.core.paths import existing_file
from audit_core.targets.torch_target import TorchTarget


def open_torch_script(config: TorchScriptTargetConfig) -> TorchTarget:
    """Load the TorchScript module on the CPU (the config's ``trust_code`` consented); its fingerprint is the
    file's SHA-256."""
    path = existing_file(config.path, "target.path", "a TorchScript file saved with torch.jit.save")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter(
                "ignore", FutureWarning
            )  # torch deprecates TorchScript; users still have it
            module = torch.jit.load(str(path), map_location="cpu")
    except (RuntimeError, ValueError) as error:
        raise TargetError(
            f"target.path: '{path}' is not a readable TorchScript file ({brief(error)}); "
            "expected torch.jit.save output (a state dict needs kind: torch_state_dict)."
        ) from None
    return TorchTarget(
        module,
        batch_size=config.batch_size,
        source=f"target.path '{path}'",
        digest=sha256_file(path),
        output=config.output,
        input_dtype=config.input_dtype,
    )

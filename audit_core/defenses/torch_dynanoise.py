"""DynaNoise as a torch module, for serving and TorchScript export.

It computes exactly what :class:`~audit_core.defenses.DynaNoise` computes, in float64: in ``per_query`` mode
the noise comes from torch's generator (fresh on every call), so the two agree in distribution; in
``per_input`` mode both call :func:`~audit_core.defenses.keyed_noise.keyed_normals` (here through the
``dynaudit::keyed_normals`` operator, which TorchScript can call), so they agree number for number.

A TorchScript file that uses ``per_input`` needs this module imported before ``torch.jit.load``, which
registers the operators.
"""

import math

import numpy as np
import torch
from torch import nn

from audit_core.core.probability import probability_logits
from audit_core.defenses.dynanoise import ENTROPY_EPS, DynaNoise
from audit_core.defenses.keyed_noise import keyed_normals


def _keyed_normals(logits: torch.Tensor, key: torch.Tensor, count: int) -> torch.Tensor:
    normals = keyed_normals(
        logits.detach().cpu().double().numpy(), key.cpu().numpy().tobytes(), count, remember=False
    )
    return torch.from_numpy(normals).to(logits.device)


# TorchScript calls the function through this operator; eager mode calls it directly (the dispatcher's
# Python round trip costs about 0.1 ms per call).
_keyed_normals_op = torch.library.custom_op("dynaudit::keyed_normals", mutates_args=())(_keyed_normals)


@_keyed_normals_op.register_fake
def _(logits: torch.Tensor, key: torch.Tensor, count: int) -> torch.Tensor:
    return logits.new_empty((logits.shape[0], count), dtype=torch.float64)


def _probability_logits(probabilities: torch.Tensor) -> torch.Tensor:
    logits = probability_logits(probabilities.detach().cpu().double().numpy())
    return torch.from_numpy(logits).to(probabilities.device)


# A model's probabilities become logits as the audit reads them (numpy's logarithm), through an operator
# TorchScript can call, so that keyed noise, which hashes the logits' bytes, is the audited noise.
_probability_logits_op = torch.library.custom_op("dynaudit::probability_logits", mutates_args=())(
    _probability_logits
)


@_probability_logits_op.register_fake
def _(probabilities: torch.Tensor) -> torch.Tensor:
    return probabilities.new_empty(probabilities.shape, dtype=torch.float64)


def logits_of_probabilities(probabilities: torch.Tensor, exact: bool, floor: float) -> torch.Tensor:
    """A model's probabilities as the logits the audit read, ``log(max(p, floor))`` in float64 (``floor``:
    :data:`~audit_core.core.probability.PROBABILITY_FLOOR`, an argument because TorchScript reads no global):
    with ``exact`` (per_input noise, keyed by the logits' bytes) by the audit's own numpy logarithm, else by
    torch's."""
    if not exact:
        return torch.log(probabilities.double().clamp_min(floor))
    if torch.jit.is_scripting():
        return torch.ops.dynaudit.probability_logits(probabilities)
    return _probability_logits(probabilities)


def key_tensor(key: bytes) -> torch.Tensor:
    """DynaNoise's key as the uint8 buffer the module holds."""
    return torch.from_numpy(np.frombuffer(key, dtype=np.uint8).copy())


class TorchDynaNoise(nn.Module):
    """Logits ``(n, k)`` in, DynaNoise-defended probabilities ``(n, k)`` (float64) out.

    >>> module = TorchDynaNoise(DynaNoise())
    >>> probs = module(torch.tensor([[4.0, 0.0, -1.0]]), torch.Generator().manual_seed(0))
    >>> bool(torch.isclose(probs.sum(), torch.tensor(1.0, dtype=torch.float64)))
    True
    """

    def __init__(self, defense: DynaNoise) -> None:
        """Copy the parameters (and the secret key) of a configured, tuned or loaded :class:`DynaNoise`; the
        key is not part of the state dict (``persistent=False``), nor of an exported file."""
        super().__init__()
        self.sigma0_sq = float(defense.sigma0_sq)
        self.lam = float(defense.lam)
        self.temperature = float(defense.temperature)
        self.ensemble_size = int(defense.ensemble_size)
        self.per_input = defense.noise_mode == "per_input"
        self.entropy_eps = ENTROPY_EPS
        self.register_buffer("key", key_tensor(defense.key), persistent=False)

    def forward(self, logits: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        z = logits.double()
        n, k = z.shape[0], z.shape[1]
        probs = torch.softmax(z, dim=1)
        negative_entropy = torch.xlogy(probs, probs + self.entropy_eps).sum(dim=1)
        # sigma0_sq * (1 + lam * R) with R = 1 - H / log k, in as few tensor operations as possible
        scale = self.sigma0_sq * self.lam / math.log(k + self.entropy_eps)
        std = (self.sigma0_sq * (1.0 + self.lam) + scale * negative_entropy).sqrt()[:, None, None]
        if self.per_input:
            if torch.jit.is_scripting():
                noise = torch.ops.dynaudit.keyed_normals(z, self.key, self.ensemble_size * k)
            else:
                noise = _keyed_normals(z, self.key, self.ensemble_size * k)
            noise = noise.view(n, self.ensemble_size, k)
        else:
            noise = torch.randn((n, self.ensemble_size, k), generator=generator, dtype=torch.float64)
        noisy = torch.addcmul(z[:, None, :], std, noise)
        return torch.softmax(noisy / self.temperature, dim=2).mean(dim=1)

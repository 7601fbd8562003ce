"""dynaudit's Adam takes torch.optim.Adam's steps to the last bit, without importing torch._dynamo."""

import subprocess
import sys

import pytest
import torch
from torch import nn

from audit_core.core.adam import Adam


def _trained(make_optimizer, dtype: torch.dtype, steps: int = 60) -> list[list[torch.Tensor]]:
    """A small network fitted by full-batch steps; its parameters after every step."""
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(64, 5, generator=generator, dtype=dtype)
    targets = torch.randn(64, 1, generator=generator, dtype=dtype)
    torch.manual_seed(1)
    network = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 1)).to(dtype)
    optimizer = make_optimizer(network.parameters())
    history = []
    for _ in range(steps):
        optimizer.zero_grad()
        nn.functional.mse_loss(network(inputs), targets).backward()
        optimizer.step()
        history.append([p.detach().clone() for p in network.parameters()])
    return history


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_every_step_equals_torchs_adam_bit_for_bit(dtype):
    ours = _trained(lambda params: Adam(params, lr=0.03), dtype)
    torchs = _trained(lambda params: torch.optim.Adam(params, lr=0.03), dtype)
    assert not torch.equal(ours[0][0], ours[-1][0])  # it moved
    for step, (mine, theirs) in enumerate(zip(ours, torchs, strict=True)):
        assert all(torch.equal(a, b) for a, b in zip(mine, theirs, strict=True)), f"step {step + 1} differs"


def test_memguard_fits_and_answers_without_importing_torch_dynamo():
    code = """
import sys
import numpy as np
from audit_core.defenses import DefenderData, MemGuard, fit_defense
rng = np.random.default_rng(0)
members = rng.normal(0, 1, (60, 4))
members[np.arange(60), rng.integers(4, size=60)] += 6.0
defense = fit_defense(MemGuard(), DefenderData(members, rng.normal(0, 2, (60, 4)), None), seed=0)
defense.apply(rng.normal(0, 2, (20, 4)), rng)
print("torch._dynamo" in sys.modules)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "False"

"""The torch DynaNoise module against the numpy one: in distribution (per_query), exactly (per_input)."""

import numpy as np
import pytest
import torch
from scipy import stats

from audit_core.defenses import DynaNoise, keyed_noise
from audit_core.defenses.torch_dynanoise import TorchDynaNoise

ROWS = np.array([[6.0, 1.0, 0.0, -2.0], [0.8, 0.5, 0.0, -0.3]])
KEY = b"0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize("ensemble_size", [1, 3])
def test_torch_and_numpy_per_query_agree_in_distribution(ensemble_size):
    """Two-sample Kolmogorov-Smirnov test per (row, class) at a family-wise level of 0.1%: the critical
    distance c(alpha) * sqrt(2 / n) for n draws on each side."""
    draws = 10_000
    defense = DynaNoise(sigma0_sq=0.5, lam=2.0, temperature=3.0, ensemble_size=ensemble_size)
    logits = np.repeat(ROWS, draws, axis=0)
    reference = defense.apply(logits, np.random.default_rng(1))
    module = TorchDynaNoise(defense)
    released = module(torch.from_numpy(logits), torch.Generator().manual_seed(2)).numpy()
    tests = ROWS.size
    critical = stats.kstwobign.isf(1e-3 / tests) * np.sqrt(2 / draws)
    for row in range(len(ROWS)):
        block = slice(row * draws, (row + 1) * draws)
        for column in range(ROWS.shape[1]):
            distance = stats.ks_2samp(reference[block, column], released[block, column]).statistic
            assert distance < critical, (row, column, distance, critical)
    # and the two are not identical draws: the test above has power, not a tautology
    assert not np.allclose(reference, released)


def test_torch_and_numpy_per_input_agree_number_for_number():
    defense = DynaNoise(noise_mode="per_input", key=KEY, ensemble_size=2)
    logits = np.random.default_rng(3).normal(0, 3, (64, 10))
    expected = defense.apply(logits, np.random.default_rng(0))
    released = TorchDynaNoise(defense)(torch.from_numpy(logits)).numpy()
    np.testing.assert_allclose(released, expected, rtol=0, atol=1e-14)


def test_a_served_model_remembers_no_query():
    """Serving computes every row: no query's logits stay in memory, and a repeated query takes as long as a
    new one (the audit's memo would answer it faster)."""
    defense = TorchDynaNoise(DynaNoise(noise_mode="per_input", key=KEY))
    logits = torch.from_numpy(np.random.default_rng(4).normal(0, 3, (32, 10)))
    held = len(keyed_noise._memo)
    first, again = defense(logits), defense(logits)
    assert len(keyed_noise._memo) == held
    assert torch.equal(first, again)


def test_float32_logits_are_hashed_as_their_float64_values():
    defense = DynaNoise(noise_mode="per_input", key=KEY)
    logits32 = torch.randn(8, 5, generator=torch.Generator().manual_seed(0))
    expected = defense.apply(logits32.double().numpy(), np.random.default_rng(0))
    np.testing.assert_allclose(TorchDynaNoise(defense)(logits32).numpy(), expected, rtol=0, atol=1e-14)

import numpy as np
import pytest
from scipy import stats
from scipy.special import softmax

from audit_core.defenses import DynaNoise, Undefended, sensitivity

# Rows from very confident to uniform, so R(q) spans [0, 1].
LOGITS = np.array(
    [
        [12.0, 0.0, 0.0, -1.0],
        [3.0, 1.0, 0.0, 0.0],
        [0.5, 0.4, 0.0, -0.2],
        [0.0, 0.0, 0.0, 0.0],
    ]
)


def test_sensitivity_is_one_minus_normalised_entropy():
    probs = softmax(LOGITS, axis=1)
    expected = 1 - stats.entropy(probs, axis=1) / np.log(LOGITS.shape[1])
    assert sensitivity(LOGITS) == pytest.approx(expected, abs=1e-6)
    assert sensitivity(LOGITS)[0] > 0.99 and abs(sensitivity(LOGITS)[-1]) < 1e-6


def test_empirical_noise_variance_matches_sigma0_sq_times_one_plus_lambda_r():
    """Recover the logit noise from the released output and test its variance per row with a chi-square
    interval (99.9% overall, Bonferroni over rows)."""
    defense = DynaNoise(sigma0_sq=0.3, lam=2.0, temperature=10.0)
    draws = 20_000
    rng = np.random.default_rng(7)
    tiled = np.repeat(LOGITS, draws, axis=0)
    released = defense.apply(tiled, rng)
    # T * (log out_1 - log out_0) = (z_1 - z_0) + (eps_1 - eps_0), and Var(eps_1 - eps_0) = 2 sigma^2.
    difference = defense.temperature * (np.log(released[:, 1]) - np.log(released[:, 0]))
    noise = (difference - (tiled[:, 1] - tiled[:, 0])).reshape(len(LOGITS), draws)
    expected = defense.noise_variance(LOGITS)
    alpha = 1e-3 / len(LOGITS)
    low, high = stats.chi2.ppf([alpha / 2, 1 - alpha / 2], draws - 1)
    for row, sigma_sq in enumerate(expected):
        statistic = (draws - 1) * noise[row].var(ddof=1) / (2 * sigma_sq)
        assert low < statistic < high, f"row {row}: variance {noise[row].var() / 2:.4f} vs {sigma_sq:.4f}"
        assert abs(noise[row].mean()) < 5 * np.sqrt(2 * sigma_sq / draws)
    assert expected == pytest.approx(0.3 * (1 + 2.0 * sensitivity(LOGITS)))


def test_outputs_are_probability_vectors():
    released = DynaNoise().apply(
        np.random.default_rng(0).normal(0, 20, size=(500, 10)), np.random.default_rng(1)
    )
    assert released.shape == (500, 10)
    assert np.all(released >= 0) and np.allclose(released.sum(axis=1), 1.0)


def test_temperature_above_one_lowers_confidence():
    clean = Undefended().apply(LOGITS[:3], np.random.default_rng(0)).max(axis=1)
    smoothed = (
        DynaNoise(sigma0_sq=0.0, temperature=4.0).apply(LOGITS[:3], np.random.default_rng(0)).max(axis=1)
    )
    assert np.all(smoothed < clean)
    noisy = DynaNoise(temperature=10.0).apply(np.repeat(LOGITS[:1], 1000, axis=0), np.random.default_rng(0))
    assert noisy.max(axis=1).mean() < clean[0] - 0.2


def test_same_seed_same_output_and_fresh_noise_per_call():
    defense = DynaNoise()
    first = defense.apply(LOGITS, np.random.default_rng(3))
    assert np.array_equal(first, defense.apply(LOGITS, np.random.default_rng(3)))
    rng = np.random.default_rng(3)
    assert not np.array_equal(defense.apply(LOGITS, rng), defense.apply(LOGITS, rng))


@pytest.mark.parametrize("params", [{"sigma0_sq": -0.1}, {"lam": -1.0}, {"temperature": 0.0}])
def test_rejects_invalid_parameters(params):
    with pytest.raises(ValueError, match="DynaNoise needs"):
        DynaNoise(**params)

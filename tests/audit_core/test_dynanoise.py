import hashlib
import hmac
import tracemalloc

import numpy as np
import pytest
from scipy import special, stats
from scipy.special import softmax

from audit_core.defenses import DynaNoise, Undefended, keyed_noise, sensitivity
from audit_core.defenses.keyed_noise import MEMO_ROW_OVERHEAD, RowMemo, keyed_normals

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


KEY = b"a secret key of 32 bytes, really"


def test_per_input_repeats_exactly_whatever_the_generator():
    defense = DynaNoise(noise_mode="per_input", key=KEY)
    first = defense.apply(LOGITS, np.random.default_rng(0))
    assert np.array_equal(first, defense.apply(LOGITS, np.random.default_rng(1)))
    # A row's answer does not depend on the batch it arrives in.
    assert np.array_equal(first[2:3], defense.apply(LOGITS[2:3], np.random.default_rng(2)))


def test_per_input_noise_differs_across_inputs_and_keys():
    defense = DynaNoise(sigma0_sq=1.0, temperature=1.0, noise_mode="per_input", key=KEY)
    same_logits = np.zeros((2, 4))
    nearby = np.array([[0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1e-12]])
    released = defense.apply(nearby, np.random.default_rng(0))
    assert not np.allclose(released[0], released[1], atol=1e-3), "different queries need different noise"
    assert np.array_equal(*defense.apply(same_logits, np.random.default_rng(0)))
    other_key = DynaNoise(sigma0_sq=1.0, temperature=1.0, noise_mode="per_input", key=KEY[::-1])
    assert not np.allclose(released, other_key.apply(nearby, np.random.default_rng(0)), atol=1e-3)


def test_per_input_noise_has_the_same_distribution_as_fresh_noise():
    """Across many distinct queries, keyed noise passes the same variance test as per_query noise."""
    draws = 20_000
    rng = np.random.default_rng(5)
    logits = np.repeat(LOGITS[1:2], draws, axis=0) + rng.normal(0, 1e-9, (draws, 4))  # distinct queries
    defense = DynaNoise(noise_mode="per_input", key=KEY)
    released = defense.apply(logits, rng)
    noise = defense.temperature * (np.log(released[:, 1]) - np.log(released[:, 0])) - (
        logits[:, 1] - logits[:, 0]
    )
    sigma_sq = defense.noise_variance(LOGITS[1:2])[0]
    statistic = (draws - 1) * noise.var(ddof=1) / (2 * sigma_sq)
    assert stats.chi2.ppf(5e-4, draws - 1) < statistic < stats.chi2.ppf(1 - 5e-4, draws - 1)
    assert abs(noise.mean()) < 4 * np.sqrt(2 * sigma_sq / draws)


def test_per_input_needs_a_key_of_sixteen_bytes():
    with pytest.raises(ValueError, match="at least 16 bytes"):
        DynaNoise(noise_mode="per_input")
    with pytest.raises(ValueError, match="at least 16 bytes"):
        DynaNoise(noise_mode="per_input", key=b"short")


def test_ensemble_of_m_draws_divides_the_variance_by_m():
    """With small noise the release is linear in it, so averaging M draws divides the variance by M; an F
    interval at 99.9% on 5,000 answers each."""
    draws, m = 5_000, 8
    logits = np.repeat(LOGITS[1:2], draws, axis=0)
    single = DynaNoise(sigma0_sq=0.01, temperature=2.0).apply(logits, np.random.default_rng(6))[:, 0]
    ensemble = DynaNoise(sigma0_sq=0.01, temperature=2.0, ensemble_size=m).apply(
        logits, np.random.default_rng(7)
    )[:, 0]
    ratio = m * ensemble.var(ddof=1) / single.var(ddof=1)
    low, high = stats.f.ppf([5e-4, 1 - 5e-4], draws - 1, draws - 1)
    assert low < ratio < high
    assert abs(ensemble.mean() - single.mean()) < 4 * single.std() / np.sqrt(draws)


def _keyed_normals_afresh(logits: np.ndarray, key: bytes, count: int) -> np.ndarray:
    """The keyed normals as the module docstring defines them, row by row, with no memo."""
    rows = []
    for row in np.ascontiguousarray(logits, dtype="<f8"):
        seed = hmac.new(key, row.tobytes(), hashlib.sha256).digest()
        words = np.frombuffer(hashlib.shake_256(seed).digest(4 * count), dtype="<u4")
        rows.append(special.ndtri((words.astype(np.float64) + 0.5) / 2**32))
    return np.array(rows).reshape(len(logits), count)


def test_remembered_keyed_noise_is_the_noise_computed_afresh_bit_for_bit():
    """The tuner applies per-input DynaNoise to the same query rows at every trial; a remembered row must be
    exactly what the keyed hash gives, and a changed row or key must not be taken for a remembered one."""
    logits = np.random.default_rng(3).normal(size=(50, 10))
    first = keyed_normals(logits, KEY, 10)  # computed, then remembered
    first[0, 0] = 99.0  # a caller's change to its copy does not reach the memo
    mixed = np.vstack([logits[::2], np.random.default_rng(4).normal(size=(5, 10)), logits[:3]])
    for batch in (logits, mixed, logits[7:8]):
        assert (keyed_normals(batch, KEY, 10) == _keyed_normals_afresh(batch, KEY, 10)).all()
    moved = logits.copy()
    moved[7, 3] = np.nextafter(moved[7, 3], np.inf)
    assert (keyed_normals(moved, KEY, 10) == _keyed_normals_afresh(moved, KEY, 10)).all()
    assert (keyed_normals(logits, KEY[::-1], 10) == _keyed_normals_afresh(logits, KEY[::-1], 10)).all()
    assert (keyed_normals(logits, KEY, 20) == _keyed_normals_afresh(logits, KEY, 20)).all()


@pytest.mark.parametrize("key_bytes", [16, 63, 64, 65, 200])
def test_keyed_noise_is_hmac_sha256_then_shake_for_keys_shorter_and_longer_than_a_block(key_bytes):
    """The HMAC is computed from the padded key's SHA-256 states; a key longer than SHA-256's 64-byte block
    is hashed first (RFC 2104). Served without the memo, every row is computed this way."""
    key = bytes(np.random.default_rng(key_bytes).integers(0, 256, key_bytes, dtype=np.uint8))
    logits = np.random.default_rng(key_bytes + 1).normal(size=(20, 10))
    computed = keyed_normals(logits, key, 7, remember=False)
    assert (computed == _keyed_normals_afresh(logits, key, 7)).all()


MEMO = keyed_noise._memo


def test_rows_asked_once_are_computed_and_not_remembered():
    """An averaging attacker's near-duplicates are asked once: computed exactly, and not put in the memo."""
    logits, key, memo = np.random.default_rng(21).normal(size=(30, 10)), b"asked-once test key", MEMO

    def remembered() -> int:
        tables = [generation.get((key, 10), {}) for generation in (memo.newer, memo.older)]
        return sum(any(row.tobytes() in table for table in tables) for row in logits)

    with keyed_noise.asked_once():
        assert (keyed_normals(logits, key, 10) == _keyed_normals_afresh(logits, key, 10)).all()
    assert remembered() == 0
    keyed_normals(logits, key, 10)
    assert remembered() == 30


def test_the_row_memo_holds_at_most_two_generations_of_rows_and_their_stated_bytes():
    """Fed twice its capacity several times over, the memo keeps at most ``2 * capacity`` rows, within the
    bytes per row that MEMO_ROWS's comment states, and still answers exactly."""
    capacity, k = 1_000, 10
    memo = RowMemo(capacity)
    logits = np.random.default_rng(5).normal(size=(7 * capacity, k))
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for block in np.array_split(logits, 20):
        rows = [row.tobytes() for row in block]
        assert (memo.normals(rows, KEY, k) == _keyed_normals_afresh(block, KEY, k)).all()
        assert len(memo) <= 2 * capacity
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert held <= 2 * capacity * (8 * (k + k) + MEMO_ROW_OVERHEAD)
    again = [row.tobytes() for row in logits[-capacity:]]  # the newest rows are remembered
    assert (memo.normals(again, KEY, k) == _keyed_normals_afresh(logits[-capacity:], KEY, k)).all()
    held = len(memo)
    memo.normals([], KEY, 1)  # DynaNoise checks its key so: nothing is forgotten
    assert (memo.normals(again[:5], KEY, 1) == _keyed_normals_afresh(logits[-capacity:][:5], KEY, 1)).all()
    assert len(memo) == held + 5  # another count is remembered beside, not instead

import numpy as np

from audit_core.audit.evaluation import doubling_schedule, near_duplicate, observe
from audit_core.audit.running_sums import RunningSums
from audit_core.defenses import DynaNoise

KEY = b"a secret key of 32 bytes, really"


def _observed_afresh(defense: DynaNoise, logits: np.ndarray, queries: int) -> np.ndarray:
    """The averaging attacker's mean over near-duplicates, every answer computed (no running sum)."""
    return (
        sum(defense.apply(near_duplicate(logits, r), np.random.default_rng(0)) for r in range(queries))
        / queries
    )


def test_the_averaging_attackers_means_along_its_schedule_are_the_means_computed_afresh_bit_for_bit():
    logits = np.random.default_rng(0).normal(scale=3.0, size=(40, 10))
    defense = DynaNoise(sigma0_sq=0.5, noise_mode="per_input", key=KEY)
    other_key = DynaNoise(sigma0_sq=0.5, noise_mode="per_input", key=KEY[::-1])
    for queries in [*doubling_schedule(64), 3, 1]:  # then shorter sums than the one remembered
        for d in (defense, other_key):
            observed = observe(d, logits, np.random.default_rng(1), queries)
            assert (observed == _observed_afresh(d, logits, queries)).all()
    assert not (observe(defense, logits, None, 8) == observe(other_key, logits, None, 8)).all()


def test_a_running_sum_continues_from_the_remembered_count_and_keeps_within_its_bytes():
    calls: list[int] = []
    batch = np.arange(20.0).reshape(2, 10)

    def answer(step: int) -> np.ndarray:
        calls.append(step)
        return np.sin(batch * (step + 1))

    sums = RunningSums(max_bytes=3 * batch.nbytes)
    for count in (1, 2, 4, 8):
        assert (sums.total("d", batch, count, answer) == sum(answer(i) for i in range(count))).all()
    assert calls.count(7) == 2 and calls.count(0) == 5  # 0..7 answered once by the sums, then afresh
    for shift in range(5):  # more batches than the bytes allow: the oldest go
        sums.total("d", batch + shift + 1, 2, answer)
        assert sums.bytes <= 3 * batch.nbytes and len(sums.sums) <= 3

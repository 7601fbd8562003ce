import numpy as np

from audit_core.audit.evaluation import doubling_schedule, near_duplicate, observe
from audit_core.audit.running_sums import ROW_OVERHEAD, RunningSums
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


def test_each_rows_running_sum_continues_from_its_remembered_count_and_keeps_within_its_bytes():
    calls: list[tuple[int, int]] = []  # (step, row) answered, a row named by its index in ``queries``
    queries = np.arange(30.0).reshape(3, 10)

    def total(sums: RunningSums, rows: list[int], count: int) -> np.ndarray:
        batch = queries[rows]

        def answer(step: int, picked: np.ndarray) -> np.ndarray:
            calls.extend((step, rows[i]) for i in picked)
            return np.sin(batch[picked] * (step + 1))

        summed = sums.total("d", batch, count, answer)
        assert (summed == sum(np.sin(batch * (step + 1)) for step in range(count))).all()  # bit for bit
        return summed

    row_bytes = queries[0].nbytes * 2 + ROW_OVERHEAD
    sums = RunningSums(max_bytes=4 * row_bytes)
    for count in (1, 2, 4, 8):
        total(sums, [0, 1], count)
    assert sorted(calls) == sorted((step, row) for step in range(8) for row in (0, 1))  # each answer once
    calls.clear()
    total(sums, [1, 2], 12)  # row 1 continues from its 8 answers, row 2 starts
    assert sorted(calls) == sorted([(step, 1) for step in range(8, 12)] + [(step, 2) for step in range(12)])
    calls.clear()
    total(sums, [0], 3)  # a shorter sum than the one remembered: afresh, and the longer one stays
    assert (
        calls == [(0, 0), (1, 0), (2, 0)] and sums.sums.get((sums.tokens["d"], queries[0].tobytes()))[0] == 8
    )
    for shift in range(5):  # more rows than the bytes allow: the oldest go
        sums.total("d", queries + shift + 1, 2, lambda step, picked: np.ones((len(picked), 10)))
        assert sums.sums.bytes <= 4 * row_bytes and len(sums.sums) <= 4

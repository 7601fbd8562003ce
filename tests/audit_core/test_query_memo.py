"""The query memo: a model's logits on a batch of inputs computed once while kept, dropped with the model or
beyond the byte budget."""

import gc

import numpy as np

from audit_core.audit.query_memo import QueryMemo
from audit_core.targets import ModelTarget


class CountingLinear(ModelTarget):
    """A linear model that counts the records it computes."""

    def __init__(self, weights: np.ndarray) -> None:
        super().__init__(source="a linear model", digest="linear")
        self.weights, self.computed = weights, 0

    def predict(self, batch: np.ndarray) -> np.ndarray:
        self.computed += len(batch)
        return batch @ self.weights


def test_a_batch_is_computed_once_while_kept_and_the_same_logits_come_back():
    model = CountingLinear(np.random.default_rng(0).normal(size=(4, 3)))
    batch = np.random.default_rng(1).normal(size=(50, 4)).astype(np.float32)
    memo = QueryMemo(2**20)
    first = memo.logits(model, batch)
    later = [memo.logits(model, batch.copy()) for _ in range(3)]
    assert model.computed == 50 and all(logits is first for logits in later)
    assert not first.flags.writeable and memo.kept.bytes == first.nbytes
    np.testing.assert_array_equal(first, model.logits(batch))
    for other in (batch[:49], batch.astype(np.float64)):  # fewer rows, or the same numbers in another dtype
        memo.logits(model, other)
    assert model.computed == 100 + 49 + 50


def test_the_least_recently_used_go_beyond_the_budget_and_a_models_entries_go_with_it():
    model = CountingLinear(np.ones((4, 3)))
    batches = [np.full((10, 4), float(i)) for i in range(3)]
    memo = QueryMemo(2 * 10 * 3 * 8)  # two batches' logits
    for batch in [*batches, batches[2], batches[0]]:
        memo.logits(model, batch)
    assert model.computed == 10 * 4  # the third batch pushed out the first, asked again after
    assert memo.kept.bytes == 2 * 10 * 3 * 8
    del model
    gc.collect()
    assert memo.kept.bytes == 0 and not len(memo.kept)

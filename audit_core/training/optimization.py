"""What every torch trainer shares: the recipe's optimizer and the block that trains on one thread."""

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from threadpoolctl import threadpool_limits

from audit_core.config import TrainingRecipe


@contextmanager
def one_thread() -> Iterator[None]:
    """One torch thread and one BLAS/OpenMP thread inside the block, for a worker that owns one CPU slot;
    torch's thread count is restored after it."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            yield
    finally:
        torch.set_num_threads(before)


def optimizer_for(parameters: list[torch.Tensor], recipe: TrainingRecipe) -> torch.optim.Optimizer:
    """The recipe's optimizer over ``parameters``."""
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(
            parameters,
            lr=recipe.learning_rate,
            momentum=recipe.momentum,
            weight_decay=recipe.weight_decay,
            foreach=True,
        )
    # foreach: one multi-tensor kernel per step instead of a loop over tensors (same arithmetic per element)
    return torch.optim.Adam(
        parameters, lr=recipe.learning_rate, weight_decay=recipe.weight_decay, foreach=True
    )

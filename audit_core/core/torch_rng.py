"""torch's global random generator, used by one thread at a time.

torch's layers draw their initial weights (and dropout its masks) from the global CPU generator and take no
``torch.Generator``. Seeding it in one thread while another draws from it gives either thread the other's
numbers, so dynaudit touches it only inside :func:`seeded_global_rng`, which holds one process-wide lock;
everything else draws from explicit ``torch.Generator`` or ``numpy.random.Generator`` objects.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import torch

_GLOBAL_GENERATOR = threading.RLock()  # re-entrant: a model built while its trainer holds the generator


@contextmanager
def seeded_global_rng(seed: int) -> Iterator[None]:
    """Inside the block, torch's global CPU generator is seeded with ``seed`` and no other thread of this
    process draws from it through dynaudit; its earlier state is restored afterwards.

    >>> with seeded_global_rng(3):
    ...     first = torch.rand(2)
    >>> with seeded_global_rng(3):
    ...     torch.equal(first, torch.rand(2))
    True
    """
    with _GLOBAL_GENERATOR, torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield

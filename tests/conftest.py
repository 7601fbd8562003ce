"""Test-wide settings: one torch and one BLAS/OpenMP thread per worker, and Prefect isolated from the
user's home."""

import os
import tempfile
from collections.abc import Iterator

import pytest
import torch
from threadpoolctl import threadpool_limits

os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="dynaudit-test-prefect-"))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
os.environ.setdefault("DO_NOT_TRACK", "1")


@pytest.fixture(scope="session", autouse=True)
def one_thread() -> Iterator[None]:
    """Tests share the machine's cores: one torch thread, and one thread in every BLAS and OpenMP pool."""
    torch.set_num_threads(1)
    with threadpool_limits(1):
        yield

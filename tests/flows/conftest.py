"""Flow tests share one real Prefect server (a temporary SQLite database), started once per session."""

import pytest
from prefect.settings import PREFECT_API_URL
from prefect.testing.utilities import prefect_test_harness


@pytest.fixture(scope="session")
def prefect_api_url() -> str:
    """Start a real Prefect server for the session and return its API URL."""
    with prefect_test_harness(server_startup_timeout=120):
        yield PREFECT_API_URL.value()

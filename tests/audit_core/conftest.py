"""Attack-test data shared across modules, computed once per session from tiny real models."""

import pytest

from tests.audit_core.attack_data import Audit, reference_audit, shadow_audit


@pytest.fixture(scope="session")
def memorised() -> Audit:
    """Shadow-model calibration, and a target's outputs on 100 members and 100 non-members."""
    return shadow_audit()


@pytest.fixture(scope="session")
def memorising_audit() -> Audit:
    """Reference-model calibration, and a target's outputs on 250 members and 250 non-members."""
    return reference_audit()

"""Audit data and its loaders."""

from audit_core.data.base import AuditData, Split
from audit_core.data.demo import DEMO_DATASETS, load_demo_data

__all__ = ["DEMO_DATASETS", "AuditData", "Split", "load_demo_data"]

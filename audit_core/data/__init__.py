"""Audit data and its loaders: ``load_data(config.data)`` for any configured kind."""

from audit_core.data.base import PARTS, AuditData, Split
from audit_core.data.demo import DEMO_DATASETS, load_demo_data
from audit_core.data.loading import LOADERS, load_data

__all__ = ["DEMO_DATASETS", "LOADERS", "PARTS", "AuditData", "Split", "load_data", "load_demo_data"]

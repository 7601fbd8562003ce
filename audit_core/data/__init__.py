"""Audit data and its loaders: ``load_data(config.data)`` for any configured kind, ``probe_data`` to check
it cheaply."""

from audit_core.data.base import PARTS, AuditData, Split
from audit_core.data.demo import DEMO_DATASETS, load_demo_data
from audit_core.data.loading import LOADERS, load_data, probe_data
from audit_core.data.probe import DataProbe

__all__ = [
    "DEMO_DATASETS",
    "LOADERS",
    "PARTS",
    "AuditData",
    "DataProbe",
    "Split",
    "load_data",
    "load_demo_data",
    "probe_data",
]

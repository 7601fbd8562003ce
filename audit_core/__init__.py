"""dynaudit's science layer: data, targets, defenses, attacks, statistics and reports. Never imports Prefect.

The facade: :func:`load_config` reads a YAML audit config, :func:`run_audit` runs the one composition of the
audit without Prefect (``write=True`` writes the run folder), :func:`analyse_scores` turns any table of
scores into metrics. Each is imported on first use, so importing a sub-package stays light.
"""

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

#: facade name -> the module that defines it
_FACADE = {
    "load_config": "audit_core.config",
    "run_audit": "audit_core.audit.run",
    "analyse_scores": "audit_core.audit.analysis",
}

__all__ = ["__version__", *_FACADE]


def __getattr__(name: str) -> Any:
    if name not in _FACADE:
        raise AttributeError(f"module 'audit_core' has no attribute {name!r}")
    return getattr(import_module(_FACADE[name]), name)

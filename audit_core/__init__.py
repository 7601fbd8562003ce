"""dynaudit's science layer: data, targets, defenses, attacks, metrics and reports. Never imports Prefect."""

__version__ = "0.1.0"

"""Errors meant for people: one sentence naming what is wrong, where, and what was expected."""


class AuditInputError(ValueError):
    """Bad user input (config, model or data). The CLI prints the message and exits with code 2."""


class ConfigError(AuditInputError):
    """The audit configuration is missing, unreadable or invalid."""


class DataError(AuditInputError):
    """Audit data are inconsistent with each other or with the target."""

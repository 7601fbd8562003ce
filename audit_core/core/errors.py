"""Errors meant for people: one sentence naming what is wrong, where, and what was expected."""


class AuditInputError(ValueError):
    """Bad user input (config, model or data). The CLI prints the message and exits with code 2."""


class ConfigError(AuditInputError):
    """The audit configuration is missing, unreadable or invalid."""


class DataError(AuditInputError):
    """Audit data are inconsistent with each other or with the target."""


class TargetError(AuditInputError):
    """The target model (or its predictions) is unreadable, refused as unsafe, or does not fit the data."""


def brief(error: BaseException, limit: int = 160) -> str:
    """The first sentence of a library's error message, shortened, to quote inside one of ours.

    >>> brief(ValueError("Bad header. Details follow.\\nTraceback-like noise"))
    'Bad header'
    """
    text = " ".join(str(error).split()) or type(error).__name__
    sentence = text.split(". ", 1)[0].rstrip(".")
    return sentence if len(sentence) <= limit else sentence[: limit - 1] + "…"


def capitalised(text: str) -> str:
    """``text`` with its first letter upper-cased and the rest (paths, names) untouched."""
    return text[:1].upper() + text[1:]

"""Errors meant for people: one sentence naming what is wrong, where, and what was expected."""

import numpy as np


class AuditInputError(ValueError):
    """Bad user input (config, model or data). The CLI prints the message and exits with code 2."""


class ConfigError(AuditInputError):
    """The audit configuration is missing, unreadable or invalid."""


class DataError(AuditInputError):
    """Audit data are inconsistent with each other or with the target."""


class TargetError(AuditInputError):
    """The target model (or its predictions) is unreadable, refused as unsafe, or does not fit the data."""


def brief(error: BaseException, limit: int = 160, records: np.ndarray | None = None) -> str:
    """The first sentence of a library's error message, shortened, to quote inside one of ours; with the
    ``records`` the error came from, without their texts (:func:`without_record_texts`).

    >>> brief(ValueError("Bad header. Details follow.\\nTraceback-like noise"))
    'Bad header'
    """
    message = str(error) if records is None else without_record_texts(str(error), records)
    text = " ".join(message.split()) or type(error).__name__
    sentence = text.split(". ", 1)[0].rstrip(".")
    return sentence if len(sentence) <= limit else sentence[: limit - 1] + "…"


def capitalised(text: str) -> str:
    """``text`` with its first letter upper-cased and the rest (paths, names) untouched."""
    return text[:1].upper() + text[1:]


def first_row(rows: np.ndarray, of: str = "") -> str:
    """How a sentence names the first record ``rows`` marks (a mask over a part, in its order): "row 7<of>,
    counted from 0", never by its id, which could name a member in the logs and Prefect's database.

    >>> first_row(np.array([False, True, True]), " of the members")
    'row 1 of the members, counted from 0'
    """
    return f"row {int(np.flatnonzero(rows)[0])}{of}, counted from 0"


#: Shortest text field of a record that an error message quoting it is cleared of (shorter ones are words of
#: the message as often as values); only texts with a letter are: a number written as text, such as '7,5',
#: says what is wrong (a decimal comma) and names nobody.
HIDDEN_TEXT = 3
#: What a record's text quoted in an error message reads as.
RECORD_TEXT = "<a record's text>"


def without_record_texts(message: str, records: np.ndarray) -> str:
    """``message`` with each text field of ``records`` it quotes (as written or as Python writes it in
    quotes) replaced by a placeholder: a model's error may quote the record it failed on, and an audit must
    not copy audited records into its output, its logs or Prefect's database.

    >>> rows = np.array([["7,5", "Jane Roe, diagnosis HIV"]], dtype=object)
    >>> without_record_texts("could not convert string to float: 'Jane Roe, diagnosis HIV'", rows)
    "could not convert string to float: '<a record's text>'"
    >>> without_record_texts("could not convert string to float: '7,5'", rows)
    "could not convert string to float: '7,5'"
    """
    values = records.ravel() if records.dtype == object else ()
    texts = {v for v in values if hidden(v)}
    for text in sorted(texts, key=len, reverse=True):  # a longer value first, so no part of it stays
        for shown in dict.fromkeys((text, repr(text)[1:-1])):
            message = message.replace(shown, RECORD_TEXT)
    return message


def hidden(value: object) -> bool:
    """Whether an error message must not quote this field of a record: a text of :data:`HIDDEN_TEXT` or more
    characters with a letter (``'7,5'`` and ``'?'`` may be quoted, ``'n/a'`` and a name may not)."""
    return isinstance(value, str) and len(value) >= HIDDEN_TEXT and any(c.isalpha() for c in value)

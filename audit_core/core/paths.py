"""Checks on the files and folders a user names, with one-sentence errors naming the config field."""

from pathlib import Path

from audit_core.core.errors import AuditInputError


def _read_from(path: Path) -> str:
    """For a relative ``path`` that is missing, where it was looked for: a config's relative paths are read
    from the folder dynaudit runs in, not the config's own (a scheduled run may run elsewhere)."""
    return "" if path.is_absolute() else f" in the working folder '{Path.cwd()}'"


def existing_file(path: Path, field: str, expected: str) -> Path:
    """``path`` if it is a readable file; otherwise an error naming ``field`` and what was ``expected``."""
    if not path.exists():
        raise AuditInputError(
            f"{field}: file '{path}' does not exist{_read_from(path)}; expected {expected}."
        )
    if not path.is_file():
        raise AuditInputError(f"{field}: '{path}' is not a file; expected {expected}.")
    return path


def existing_folder(path: Path, field: str, expected: str) -> Path:
    """``path`` if it is a folder; otherwise an error naming ``field`` and what was ``expected``."""
    if not path.is_dir():
        state = "is not a folder" if path.exists() else f"does not exist{_read_from(path)}"
        raise AuditInputError(f"{field}: folder '{path}' {state}; expected {expected}.")
    return path


def suffix_of(path: Path, choices: dict[str, object], field: str, expected: str) -> str:
    """The lower-case suffix of ``path`` if it is one of ``choices``; otherwise an error."""
    suffix = path.suffix.lower()
    if suffix not in choices:
        raise AuditInputError(
            f"{field}: '{path}' has an unknown format '{suffix or '(no suffix)'}'; expected {expected} "
            f"({', '.join(sorted(choices))})."
        )
    return suffix

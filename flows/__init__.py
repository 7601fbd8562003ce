"""Prefect flows composing the audit, and the dynaudit command line."""

from flows import fast_exit  # noqa: F401 (first, so that its exit handler runs after every other)

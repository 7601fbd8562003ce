"""Prefect flows composing the audit, and the dynaudit command line."""

"""Thin Prefect tasks over audit_core: names, retries and caching live here, science does not."""

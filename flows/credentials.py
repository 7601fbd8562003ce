"""Object-store credentials from a Prefect Secret block: the config names the block, never the secret.

The block's value is a JSON object of environment variables (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
``AWS_ENDPOINT_URL``, ``GOOGLE_APPLICATION_CREDENTIALS``, ``AZURE_STORAGE_CONNECTION_STRING``, ...) that the
store's fsspec package reads; they are set in this process only, before the output location is checked.
"""

import os
from typing import Any

from prefect.blocks.system import Secret

from audit_core.config import AuditConfig
from audit_core.core.errors import AuditInputError


def secret_block_value(name: str) -> Any | None:
    """The value of the Prefect Secret block ``name``, or ``None`` when this server has no such block."""
    try:
        return Secret.load(name).get()
    except ValueError:
        return None


def use_storage_credentials(config: AuditConfig) -> None:
    """Set the environment variables held by the Secret block ``config.storage_credentials`` names, if any."""
    name = config.storage_credentials
    if name is None:
        return
    value = secret_block_value(name)
    if value is None:
        raise AuditInputError(
            f"storage_credentials: no Prefect Secret block named '{name}'; create it (prefect block create "
            "secret) or remove the setting."
        )
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise AuditInputError(
            f"storage_credentials: Secret block '{name}' must hold a JSON object of environment variable "
            'names to strings, such as {"AWS_ACCESS_KEY_ID": ..., "AWS_SECRET_ACCESS_KEY": ...}.'
        )
    os.environ.update(value)

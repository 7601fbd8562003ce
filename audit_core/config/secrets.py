"""Secrets in a config: ``id_salt`` (the key of the record hashes) and DynaNoise's ``key``.

Each is given in clear (a pydantic ``SecretStr``: every dump, log and Prefect parameter shows ``**********``)
or as a reference resolved when the run starts: ``{env: NAME}`` (an environment variable) or
``{prefect_secret: NAME}`` (a Prefect Secret block, read by the flow layer, since audit_core never imports
Prefect). A reference is what Prefect stores with a flow run or deployment, so the secret itself stays out of
its database.
"""

import os
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import AfterValidator, Discriminator, Field, SecretStr, Tag, WithJsonSchema

from audit_core.config.base import StrictModel
from audit_core.core.errors import ConfigError

#: How pydantic (and so Prefect's stored parameters and the UI) shows a SecretStr.
MASK = "**********"
#: Reads a Prefect Secret block by name (supplied by the flow layer).
BlockReader = Callable[[str], str]


class EnvSecret(StrictModel):
    """A secret read from an environment variable when the run starts."""

    env: str = Field(
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="The environment variable that holds the secret."
    )


class PrefectSecret(StrictModel):
    """A secret read from a Prefect Secret block when the run starts."""

    prefect_secret: str = Field(min_length=1, description="The name of a Prefect Secret block.")


SecretValue = SecretStr | EnvSecret | PrefectSecret


def _not_a_mask(value: SecretValue) -> SecretValue:
    if isinstance(value, SecretStr) and value.get_secret_value() == MASK:
        raise ValueError(
            f"is the mask {MASK!r} that Prefect shows instead of a secret; give the secret itself or a "
            "reference: {env: NAME} or {prefect_secret: BLOCK}"
        )
    return value


def _form(value: Any) -> str:
    """Which of the three forms ``value`` is: ``clear``, ``env`` or ``prefect_secret``."""
    if isinstance(value, dict):
        return next((name for name in ("env", "prefect_secret") if name in value), "env")
    return {EnvSecret: "env", PrefectSecret: "prefect_secret"}.get(type(value), "clear")


#: What the JSON schema (and so Prefect's run form and its server-side check of deployment parameters)
#: accepts: references only. A secret typed into the form would be stored by Prefect in clear before any
#: dynaudit code ran, so the form offers no field for one and the server refuses one sent by
#: ``prefect deployment run``; config files and Python may still hold a secret in clear.
REFERENCES_ONLY = {
    "oneOf": [model.model_json_schema() for model in (EnvSecret, PrefectSecret)],
    "description": "A reference to the secret: {env: NAME} or {prefect_secret: BLOCK}.",
}

#: A secret in clear (masked in every dump) or a reference to one.
Secret = Annotated[
    Annotated[SecretStr, Tag("clear")]
    | Annotated[EnvSecret, Tag("env")]
    | Annotated[PrefectSecret, Tag("prefect_secret")],
    Discriminator(_form),
    AfterValidator(_not_a_mask),
    WithJsonSchema(REFERENCES_ONLY),
]


def resolve_secret(value: SecretValue, where: str, read_block: BlockReader | None = None) -> SecretStr:
    """The secret ``value`` holds or names; ``where`` is its config field, for the one-sentence error."""
    if isinstance(value, SecretStr):
        return value
    if isinstance(value, EnvSecret):
        text = os.environ.get(value.env, "")
        if not text:
            raise ConfigError(
                f"{where} names environment variable {value.env}, which is not set or empty; set it to the "
                "secret where the run starts."
            )
        return SecretStr(text)
    if read_block is None:
        raise ConfigError(
            f"{where} names Prefect Secret block {value.prefect_secret!r}, which only a Prefect run can "
            "read; run it with dynaudit (audit, gate, tune or serve) or give {env: NAME}."
        )
    return SecretStr(read_block(value.prefect_secret))


def secret_bytes(value: SecretValue, where: str) -> bytes:
    """The UTF-8 bytes of a resolved secret; a reference that was never resolved is a programming error."""
    if not isinstance(value, SecretStr):
        raise ConfigError(f"{where} is still a reference; resolve the config's secrets before the run.")
    return value.get_secret_value().encode()


def empty_is_none(value: Any) -> Any:
    """An empty secret in a config means none (configs written when ``id_salt: ""`` was the default)."""
    return None if value == "" else value

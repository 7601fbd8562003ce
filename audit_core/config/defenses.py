"""The ``defenses:`` list: one model per registered defense, generated from the defense's dataclass fields.

Each parameter's default, bounds and description live with the defense
(:func:`audit_core.defenses.parameter`); the models here add what only the config needs: the ``name`` tag, and
DynaNoise's secret ``key``.
"""

import functools
import inspect
import operator
from dataclasses import fields
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, create_model, field_validator

from audit_core.config.base import StrictModel, parse_model
from audit_core.config.secrets import Secret, SecretValue, empty_is_none, secret_bytes
from audit_core.core.seeding import derive_key
from audit_core.defenses import DEFENSES, MIN_KEY_BYTES, Defense, DynaNoise, Undefended


class _DefenseConfig(StrictModel):
    """A defense in the ``defenses:`` list; its fields are the keyword arguments of ``DEFENSES[name]``."""

    def defense_params(self, seed: int) -> dict[str, Any]:
        """Keyword arguments for the Defense; ``seed`` is the run seed (for derived secrets)."""
        return self.model_dump(exclude={"name"})

    def defense(self, seed: int) -> Defense:
        """The (unfitted) Defense this entry configures; ``seed`` is the run seed."""
        return DEFENSES[self.name](**self.defense_params(seed))  # type: ignore[attr-defined]

    def condition_label(self, seed: int) -> str:
        """The label that names this entry's condition in every table (it never depends on a secret)."""
        return self.defense(seed).label


class _DynaNoiseConfig(_DefenseConfig):
    """DynaNoise's ``key``: secret (in clear or a reference), at least MIN_KEY_BYTES long, derived from the
    run seed when empty."""

    @field_validator("key", mode="before", check_fields=False)
    @classmethod
    def _empty_key_is_none(cls, key: Any) -> Any:
        return empty_is_none(key)

    @field_validator("key", check_fields=False)
    @classmethod
    def _key_is_long_enough(cls, key: SecretValue | None) -> SecretValue | None:
        if isinstance(key, SecretStr) and len(key.get_secret_value().encode()) < MIN_KEY_BYTES:
            raise ValueError(f"must be at least {MIN_KEY_BYTES} bytes")
        return key

    def defense_params(self, seed: int) -> dict[str, Any]:
        params = super().defense_params(seed)
        key: SecretValue | None = self.key  # type: ignore[attr-defined]
        params["key"] = derive_key(seed, "dynanoise") if key is None else secret_bytes(key, "defenses.key")
        return params

    def condition_label(self, seed: int) -> str:
        return self.model_copy(update={"key": None}).defense(seed).label

    def with_key(self, key: SecretStr, where: str) -> "_DynaNoiseConfig":
        """This entry (``where`` in the config) with its key resolved, validated again (the key's length)."""
        return parse_model(type(self), {**self.model_dump(exclude={"key"}), "key": key}, where)


_KEY = Field(
    None,
    description=f"Secret key for per_input noise ({MIN_KEY_BYTES}+ characters), or a reference resolved "
    "when the run starts: {env: NAME} or {prefect_secret: BLOCK}; empty derives one from the run seed (fine "
    "for an audit, never for a deployment). Never written to any artifact.",
)
#: Per defense, the model it derives from and the fields it declares itself instead of the dataclass's.
_OVERRIDES: dict[str, tuple[type[_DefenseConfig], dict[str, Any]]] = {
    DynaNoise.name: (_DynaNoiseConfig, {"key": (Secret | None, _KEY)}),
}


def _summary(cls: type[Defense]) -> str:
    """The first paragraph of the class docstring, on one line: the model's description in the form."""
    return " ".join(inspect.cleandoc(cls.__doc__ or "").split("\n\n")[0].split())


def config_model(cls: type[Defense]) -> type[_DefenseConfig]:
    """The config model of a registered defense: ``name`` and, in order, one field per dataclass field with
    the default, bounds and description the defense declares."""
    base, overrides = _OVERRIDES.get(cls.name, (_DefenseConfig, {}))
    params = {
        f.name: overrides.get(f.name, (f.type, Field(f.default, **f.metadata)))
        for f in fields(cls)  # type: ignore[arg-type]
        if f.init
    }
    return create_model(  # type: ignore[call-overload, no-any-return]
        f"{cls.__name__}Config",
        __base__=base,
        __doc__=_summary(cls),
        __module__=__name__,
        name=(Literal[cls.name], cls.name),
        **params,
    )


#: The config model of every configurable defense (all but the undefended baseline), in registry order.
DEFENSE_CONFIGS = {name: config_model(cls) for name, cls in DEFENSES.items() if cls is not Undefended}
globals().update({model.__name__: model for model in DEFENSE_CONFIGS.values()})  # importable and picklable
DynaNoiseConfig = DEFENSE_CONFIGS[DynaNoise.name]

DefenseConfig = Annotated[
    functools.reduce(operator.or_, DEFENSE_CONFIGS.values()),  # type: ignore[arg-type]
    Field(discriminator="name"),
]

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

from audit_core.config.base import StrictModel
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


class _DynaNoiseConfig(_DefenseConfig):
    """DynaNoise's ``key``: secret, at least MIN_KEY_BYTES long, derived from the run seed when empty."""

    @field_validator("key", check_fields=False)
    @classmethod
    def _key_is_long_enough(cls, key: SecretStr | None) -> SecretStr | None:
        if key is not None and len(key.get_secret_value().encode()) < MIN_KEY_BYTES:
            raise ValueError(f"must be at least {MIN_KEY_BYTES} bytes")
        return key

    def defense_params(self, seed: int) -> dict[str, Any]:
        params = super().defense_params(seed)
        key: SecretStr | None = self.key  # type: ignore[attr-defined]
        params["key"] = key.get_secret_value().encode() if key else derive_key(seed, "dynanoise")
        return params


_KEY = Field(
    None,
    description=f"Secret key for per_input noise ({MIN_KEY_BYTES}+ characters); empty derives one from the "
    "run seed (fine for an audit, never for a deployment). Never written to any artifact.",
)
#: Per defense, the model it derives from and the fields it declares itself instead of the dataclass's.
_OVERRIDES: dict[str, tuple[type[_DefenseConfig], dict[str, Any]]] = {
    DynaNoise.name: (_DynaNoiseConfig, {"key": (SecretStr | None, _KEY)}),
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

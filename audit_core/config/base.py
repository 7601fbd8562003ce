"""Shared pieces of the config models: strict models, kind-tagged unions, one-sentence validation errors."""

import functools
import operator
from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Tag,
    ValidationError,
    WithJsonSchema,
)

from audit_core.config.fields import place, unknown_field_hint
from audit_core.config.strict_yaml import RepeatedKeyError, load_yaml
from audit_core.core.errors import ConfigError
from audit_core.core.knowledge import Knowledge

#: Every attacker knowledge as a plain string (the argparse choices of benchmarks/paper_protocol.py).
#: A knowledge field: validated into :class:`Knowledge`, its values listed inline in the JSON schema (as the
#: UI form showed them before the enum), not behind a ``$ref``.
KnowledgeField = Annotated[
    Knowledge, WithJsonSchema({"enum": [k.value for k in Knowledge], "type": "string"})
]
M = TypeVar("M", bound=BaseModel)
#: Config fields that hold secrets: an error about one never quotes its value.
SECRET_FIELDS = ("id_salt", "key")


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def kinds(default: str, *models: type[BaseModel]) -> Any:
    """A union of ``models`` told apart by their ``kind`` field; a mapping without ``kind`` is ``default``
    (so configs written before a section had kinds stay valid)."""

    def kind(value: Any) -> str:
        return value.get("kind", default) if isinstance(value, dict) else getattr(value, "kind", default)

    tagged = [Annotated[m, Tag(m.model_fields["kind"].default)] for m in models]
    return Annotated[functools.reduce(operator.or_, tagged), Discriminator(kind)]


def _discriminator(error: dict[str, Any]) -> str | None:
    """The field a tagged union is told apart by (``'name'`` or our ``kind()``), or None for another rule."""
    found = str(error.get("ctx", {}).get("discriminator", ""))
    if found == "kind()":
        return "kind"
    return found.strip("'") if found.startswith("'") else None


def _describe(error: ValidationError, model: type[BaseModel], source: str) -> str:
    first = error.errors()[0]
    location = tuple(first["loc"])
    at = place(model, location)
    where = ".".join(at.path) or "(top level)"
    message = first["msg"].removeprefix("Value error, ")
    tag_field = _discriminator(first)
    if first["type"] == "extra_forbidden":
        hint = unknown_field_hint(place(model, location[:-1]), str(location[-1]))
        return f"{source}: unknown field '{where}'; " + (
            f"{hint}." if hint else f"check its spelling against the {error.title} fields."
        )
    if first["type"] == "union_tag_invalid" and tag_field:
        context = first["ctx"]
        return (
            f"{source}: field '{where}.{tag_field}' = {context['tag']!r} is invalid: "
            f"expected one of {context['expected_tags']}."
        )
    if first["type"] == "union_tag_not_found" and tag_field and at.tags:
        expected = ", ".join(repr(tag) for tag in at.tags)
        return f"{source}: field '{where}' has no '{tag_field}'; expected one of {expected}."
    if first["type"] == "missing":
        return f"{source}: required field '{where}' is missing{_what_it_holds(model, location)}."
    if not location:
        return f"{source}: {message}."
    value = first.get("input")
    secret = any(part in SECRET_FIELDS for part in location)
    shown = "" if isinstance(value, dict | list) or secret else f" = {value!r}"
    return f"{source}: field '{where}'{shown} is invalid: {message}."


def _what_it_holds(model: type[BaseModel], location: tuple[int | str, ...]) -> str:
    """ "; expected <the field's description>" for the field at ``location``, or nothing without one."""
    section = place(model, location[:-1]).model
    field = section.model_fields.get(str(location[-1])) if section is not None else None
    description = (field.description or "").rstrip(".") if field is not None else ""
    if not description:
        return ""
    if description[1:2].islower():  # "Records that ..." reads "records that ...", "ONNX ..." stays
        description = description[0].lower() + description[1:]
    return f"; expected {description}"


def parse_model(model: type[M], raw: Any, source: str) -> M:
    """Validate a mapping into ``model``, raising :class:`ConfigError` with one sentence."""
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{source}: expected a mapping of {model.__name__} fields, got {type(raw).__name__}."
        )
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(_describe(error, model, source)) from None


def load_model(model: type[M], path: str | Path, what: str) -> M:
    """Read a YAML file and validate it into ``model``; ``what`` names the file in error messages."""
    path = Path(path)
    if not path.is_file():
        article = "an" if model.__name__[0] in "AEIOU" else "a"
        raise ConfigError(
            f"{what} '{path}' does not exist; expected a YAML file with {article} {model.__name__}."
        )
    try:
        raw = load_yaml(path.read_text(encoding="utf-8"))
    except RepeatedKeyError as error:
        raise ConfigError(
            f"{what} '{path}' has the key {error.key!r} twice, on lines {error.first_line} and "
            f"{error.second_line}; expected each key once (the second would silently replace the first)."
        ) from None
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{what} '{path}' is not valid YAML{where}.") from None
    return parse_model(model, raw, source=str(path))

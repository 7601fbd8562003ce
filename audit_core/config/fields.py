"""Where a validation error points, as the user wrote it: the config path without pydantic's union tags, and
the fields or kinds that place takes, for errors that say what was expected there."""

import difflib
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Tag


@dataclass(frozen=True)
class Place:
    """The end of an error's location: the ``path`` a user wrote, the model found there (None when the
    location leaves the models, e.g. a free-form mapping) and, for a model chosen by its kind, that kind."""

    path: tuple[str, ...]
    model: type[BaseModel] | None
    kind: str | None
    #: For a union told apart by a tag: its tags, in declaration order (else empty).
    tags: tuple[str, ...] = ()


def _unwrapped(annotation: Any) -> Any:
    """``annotation`` without ``Annotated`` and ``None`` (an optional field), keeping a union's members."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if _is_union(annotation):
        members = [m for m in typing.get_args(annotation) if m is not type(None)]
        if len(members) == 1:
            return _unwrapped(members[0])
    return annotation


def _is_union(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


def _tag(member: Any) -> str | None:
    """A union member's tag: its ``Tag``, or the one value of a ``Literal`` field of its model (a union told
    apart by a field, such as the defenses' ``name``)."""
    if typing.get_origin(member) is typing.Annotated:
        found = [m.tag for m in typing.get_args(member)[1:] if isinstance(m, Tag)]
        if found:
            return found[0]
    model = _unwrapped(member)
    if isinstance(model, type) and issubclass(model, BaseModel):
        for field in model.model_fields.values():
            if _is_tag_field(field.annotation):
                return typing.get_args(field.annotation)[0]
    return None


def _is_tag_field(annotation: Any) -> bool:
    """Whether a field's type is one string (``kind: Literal["table"]``): the tag, not a field to set."""
    values = typing.get_args(annotation) if typing.get_origin(annotation) is Literal else ()
    return len(values) == 1 and isinstance(values[0], str)


def _tagged_members(annotation: Any) -> dict[str, Any] | None:
    """The members of a tagged union by tag, or None when ``annotation`` is not one."""
    if not _is_union(annotation):
        return None
    members = {_tag(m): _unwrapped(m) for m in typing.get_args(annotation) if m is not type(None)}
    return None if None in members else members


def place(model: type[BaseModel], location: tuple[int | str, ...]) -> Place:
    """Follow ``location`` (a pydantic error's ``loc``) from ``model``; the union tags pydantic puts in it
    are left out of the path, and name the kind of the model they chose."""
    annotation: Any = model
    path: list[str] = []
    kind = None
    for part in location:
        annotation = _unwrapped(annotation)
        members = _tagged_members(annotation)
        if members is not None:
            if part not in members:
                return Place(tuple(path), None, None)
            annotation, kind = members[part], str(part)
            continue
        path.append(str(part))
        kind = None
        origin = typing.get_origin(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(str(part))
            annotation = field.annotation if field is not None else None
        elif origin in (list, tuple, set, frozenset):
            annotation = typing.get_args(annotation)[0]
        elif origin is dict:
            annotation = typing.get_args(annotation)[1]
        else:
            annotation = None
    annotation = _unwrapped(annotation)
    members = _tagged_members(annotation) or {}
    found = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    return Place(tuple(path), found, kind, tuple(members))


def unknown_field_hint(section: Place, field: str) -> str:
    """What to write instead of the unknown ``field`` in ``section`` (the place holding it): the closest
    field's name, if one is close, and the fields the section takes."""
    if section.model is None:
        return ""
    fields = [name for name, info in section.model.model_fields.items() if not _is_tag_field(info.annotation)]
    close = difflib.get_close_matches(field, fields, n=1)
    where = ".".join(section.path) or "the top level"
    of_kind = f" of kind '{section.kind}'" if section.kind else ""
    guess = f"did you mean '{close[0]}'? " if close else ""
    return f"{guess}{where}{of_kind} takes {', '.join(fields)}"

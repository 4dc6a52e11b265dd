"""Validate a parsed YAML :class:`Document` against a spec class, with every problem at its position."""

from __future__ import annotations

import types
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from mlops.core.errors import Problem, UserError
from mlops.core.spec.types import FieldError
from mlops.core.yamlpos import Document

T = TypeVar("T", bound=BaseModel)

_EXPECTED = {
    "int_type": "an integer",
    "float_type": "a number",
    "string_type": "a string",
    "bool_type": "true or false",
    "dict_type": "a mapping",
    "list_type": "a list",
    "model_type": "a mapping",
}
_BOUNDS = {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _narrow(tp: Any) -> Any:
    """Strip ``Annotated`` and pick, from a union, the branch that can hold keys: a model, else a container."""
    origin = get_origin(tp)
    if origin is Annotated:
        return _narrow(get_args(tp)[0])
    if origin in (Union, types.UnionType):
        branches = [_narrow(arg) for arg in get_args(tp)]
        models = [b for b in branches if isinstance(b, type) and issubclass(b, BaseModel)]
        containers = [b for b in branches if get_origin(b) in (dict, list, Mapping, Sequence)]
        return (models or containers or [None])[0]
    return tp


def _fields_at(cls: type[BaseModel], loc: tuple[Any, ...]) -> list[str] | None:
    """Names of the fields the spec allows at ``loc`` (for 'unknown key' messages)."""
    current: Any = cls
    for part in loc:
        current = _narrow(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            info = current.model_fields.get(part) if isinstance(part, str) else None
            if info is None:
                return None
            current = info.annotation
        elif get_origin(current) in (dict, Mapping):
            current = get_args(current)[1]
        elif get_origin(current) in (list, Sequence):
            current = get_args(current)[0]
        else:
            return None
    current = _narrow(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return None


def _doc_loc(data: Any, loc: tuple[Any, ...], kind: str) -> tuple[Any, ...]:
    """Keep the parts of pydantic's ``loc`` that are keys or indexes in the document.

    Pydantic adds the name of each union branch (``Pin``, ``str``, ``function-after[…]``) to ``loc``;
    those are not in the document. A missing key is the one part that may be absent (the last one).
    """
    out: list[Any] = []
    current = data
    for i, part in enumerate(loc):
        if (isinstance(current, dict) and part in current) or (
                isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current)):
            current = current[part]
        elif not (i == len(loc) - 1 and kind == "missing"):
            continue
        out.append(part)
    return tuple(out)


def _message(err: ErrorDetails) -> str:
    kind = err["type"]
    given = err.get("input")
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {type(given).__name__} {given!r}"
    msg = err["msg"].removeprefix("Value error, ")
    ctx = err.get("ctx") or {}
    if kind in {"too_short", "string_too_short"}:
        unit = "character" if kind.startswith("string") else "item"
        least = ctx.get("min_length")
        return f"expected at least {least} {unit}{'s' if least != 1 else ''}, got {given!r}"
    if kind in {"too_long", "string_too_long"}:
        unit = "character" if kind.startswith("string") else "item"
        most = ctx.get("max_length")
        return f"expected at most {most} {unit}{'s' if most != 1 else ''}, got {len(given) if given else 0}"
    if kind in _BOUNDS:
        return f"expected {msg.removeprefix('Input should be ').removeprefix('input should be ')}, got {given!r}"
    if kind in {"literal_error", "enum"}:
        return f"{given!r} is not allowed; expected {msg.removeprefix('Input should be ')}"
    return msg


def problems_for(exc: ValidationError, doc: Document, cls: type[BaseModel]) -> list[Problem]:
    """One problem per place in the document, at that place, saying what is wrong and what is expected."""
    groups: dict[tuple[Any, ...], list[ErrorDetails]] = {}
    seen: list[tuple[Any, ...]] = []
    out: list[Problem] = []
    for err in exc.errors(include_url=False):
        loc = _doc_loc(doc.data, tuple(err["loc"]), err["type"])
        if err["type"] == "extra_forbidden":
            allowed = _fields_at(cls, loc[:-1])
            hint = f"; expected one of: {', '.join(allowed)}" if allowed else ""
            out.append(doc.problem(loc, f"unknown key '{loc[-1]}' in {_dotted(loc[:-1])}{hint}", key=True))
            seen.append(loc)
            continue
        error = (err.get("ctx") or {}).get("error")
        if isinstance(error, FieldError):
            loc = (*loc, error.field)
        seen.append(loc)
        groups.setdefault(loc, []).append(err)
    for loc, errs in groups.items():
        type_errors = [e for e in errs if e["type"] in _EXPECTED]
        others = [e for e in errs if e["type"] not in _EXPECTED]
        if not others and any(other[: len(loc)] == loc and len(other) > len(loc) for other in seen):
            continue  # a union branch matched the value's shape: its deeper errors say what is wrong
        if others:
            err = others[0]
            if err["type"] == "missing":
                out.append(doc.problem(loc[:-1], f"missing required key '{loc[-1]}' in {_dotted(loc[:-1])}",
                                       key=True))
                continue
            out.append(doc.problem(loc, f"{_dotted(loc)}: {_message(err)}"))
            continue
        given = type_errors[0].get("input")
        wanted = list(dict.fromkeys(_EXPECTED[e["type"]] for e in type_errors))
        expected = wanted[0] if len(wanted) == 1 else ", ".join(wanted[:-1]) + f" or {wanted[-1]}"
        out.append(doc.problem(loc, f"{_dotted(loc)}: expected {expected}, got {type(given).__name__} {given!r}"))
    return out


def validate(doc: Document, cls: type[T]) -> T:
    """Return ``cls`` built from ``doc.data`` or raise :class:`UserError` with every problem."""
    try:
        return cls.model_validate(doc.data)
    except ValidationError as exc:
        raise UserError(problems_for(exc, doc, cls)) from None

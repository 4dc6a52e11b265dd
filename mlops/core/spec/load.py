"""Validate a parsed YAML :class:`Document` against a spec class, with every problem at its position."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from mlops.core.errors import Problem, UserError
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


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _fields_at(cls: type[BaseModel], loc: tuple[Any, ...]) -> list[str] | None:
    """Names of the fields the spec allows at ``loc`` (for 'unknown key' messages)."""
    current: Any = cls
    for part in loc:
        if isinstance(part, int) or not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        info = current.model_fields.get(part)
        if info is None:
            return None
        current = _model_in(info.annotation)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return None


def _model_in(annotation: Any) -> Any:
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_in(arg)
        if found is not None:
            return found
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _clean_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop pydantic's union-branch and validator names so ``loc`` is a path in the document."""
    return tuple(p for p in loc if not (isinstance(p, str) and ("[" in p or p.startswith("function-"))))


def problems_for(exc: ValidationError, doc: Document, cls: type[BaseModel]) -> list[Problem]:
    seen: set[tuple[Any, ...]] = set()
    out: list[Problem] = []
    for err in exc.errors(include_url=False):
        loc = _clean_loc(tuple(err["loc"]))
        kind = err["type"]
        if kind == "extra_forbidden":
            allowed = _fields_at(cls, loc[:-1])
            hint = f"; expected one of: {', '.join(allowed)}" if allowed else ""
            out.append(doc.problem(loc, f"unknown key '{loc[-1]}' in {_dotted(loc[:-1])}{hint}", key=True))
            continue
        if loc in seen:  # one message per place (unions report every branch)
            continue
        seen.add(loc)
        if kind == "missing":
            out.append(doc.problem(loc[:-1], f"missing required key '{loc[-1]}' in {_dotted(loc[:-1])}", key=True))
            continue
        given = err.get("input")
        msg = err["msg"].removeprefix("Value error, ")
        if kind in _EXPECTED:
            msg = f"expected {_EXPECTED[kind]}, got {type(given).__name__} {given!r}"
        elif kind in {"greater_than", "greater_than_equal", "less_than", "less_than_equal", "too_short", "too_long"}:
            msg = f"{msg.lower().removeprefix('input should be ')}, got {given!r}"
            msg = "expected " + msg
        elif kind in {"literal_error", "enum"}:
            msg = f"{given!r} is not allowed; {msg.lower()}"
        out.append(doc.problem(loc, f"{_dotted(loc)}: {msg}"))
    return out


def validate(doc: Document, cls: type[T]) -> T:
    """Return ``cls`` built from ``doc.data`` or raise :class:`UserError` with every problem."""
    try:
        return cls.model_validate(doc.data)
    except ValidationError as exc:
        raise UserError(problems_for(exc, doc, cls)) from None

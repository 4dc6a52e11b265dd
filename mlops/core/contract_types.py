"""The types a model's code gives its ``params``: a ``TypedDict`` or ``@dataclass`` contract, and annotations.

What is certain only: an annotation this module does not understand (``Any``, a class of the user's) checks nothing.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

_NUMBERS = frozenset({"int", "float"})
_SCALARS = frozenset({"bool", "int", "float", "str"})
_PLURAL = {"a number": "numbers", "an integer": "integers", "a string": "strings", "true or false": "booleans"}


@dataclass(frozen=True)
class Expect:
    """What the code says a value must be, as much as is certain."""

    text: str  # "a number", "a list of numbers", "one of 'a', 'b'"
    kinds: frozenset[str] = frozenset()  # kinds of value accepted: bool, int, float, str, list
    item: Expect | None = None
    choices: tuple[object, ...] = ()
    options: tuple[Expect, ...] = ()

    def accepts(self, value: object) -> bool:
        if self.options:
            return any(option.accepts(value) for option in self.options)
        if self.choices:
            return any(type(value) is type(c) and value == c for c in self.choices)
        if kind(value) not in self.kinds:
            return False
        return self.item is None or not isinstance(value, list) or all(self.item.accepts(v) for v in value)


NUMBER = Expect("a number", _NUMBERS)
INTEGER = Expect("an integer", frozenset({"int"}))
BOOLEAN = Expect("true or false", frozenset({"bool"}))
TRUTHY = Expect("true or false", frozenset({"bool", *_NUMBERS}))  # bool("false") is True: strings are wrong
TEXT = Expect("a string", frozenset({"str"}))
SCALAR = Expect("a single value", _SCALARS)
SEQUENCE = Expect("a list", frozenset({"list"}))
_TYPES = {"int": INTEGER, "float": NUMBER, "bool": BOOLEAN, "str": TEXT}
_SEQUENCES = frozenset({"list", "List", "tuple", "Tuple", "Sequence", "MutableSequence"})
_WRAPPERS = frozenset({"Required", "NotRequired", "ClassVar", "Annotated", "InitVar", "Final"})


def kind(value: object) -> str:
    """``bool``, ``int``, ``float``, ``str``, ``list`` or ``other`` (a bool is not a number here)."""
    return type(value).__name__ if type(value) in (bool, int, float, str, list) else "other"


def list_of(item: Expect | None) -> Expect:
    if item is None:
        return SEQUENCE
    return Expect(f"a list of {_PLURAL.get(item.text, f'items each {item.text}')}", SEQUENCE.kinds, item)


@dataclass
class Key:
    """What the code says about one name of ``params``."""

    line: int
    required: str = ""  # how it is read without a default, unconditionally ("build() reads params['k']")
    guarded: bool = False  # tested with ``in``, set or stored by the code: never required
    expects: list[tuple[Expect, str, int]] = field(default_factory=list)  # (what, who says so, line)


@dataclass
class Reads:
    keys: dict[str, Key] = field(default_factory=dict)
    open: bool = False
    typed: str = ""  # the TypedDict or dataclass naming the fields, when there is one

    def key(self, name: str, line: int) -> Key:
        return self.keys.setdefault(name, Key(line))


def string(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def ident(node: ast.AST) -> str:
    """``X`` for ``X`` and ``typing.X``, else ``""``."""
    return node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""


def short(node: ast.AST) -> str:
    text = ast.unparse(node)
    return text if len(text) <= 40 else text[:37] + "..."


def typed(defs: dict[str, ast.FunctionDef | ast.ClassDef], annotation: ast.expr | None) -> Reads | None:
    """The fields of a ``TypedDict`` or ``@dataclass`` of the module that annotates ``params``, else ``None``."""
    if (text := string(annotation)) is not None:
        try:
            annotation = ast.parse(text, mode="eval").body
        except SyntaxError:
            return None
    cls = defs.get(annotation.id) if isinstance(annotation, ast.Name) else None
    if not isinstance(cls, ast.ClassDef) or not _typed_kind(defs, cls, set()):
        return None
    out = Reads(typed=cls.name)
    _fields(defs, cls, set(), out)
    return out


def _typed_kind(defs: dict[str, ast.FunctionDef | ast.ClassDef], cls: ast.ClassDef, seen: set[str]) -> str:
    """``dataclass``, ``TypedDict`` (directly or through the module's own TypedDicts) or ``""``."""
    if any(ident(d.func if isinstance(d, ast.Call) else d) == "dataclass" for d in cls.decorator_list):
        return "dataclass"
    for base in cls.bases:
        inherited = defs.get(base.id) if isinstance(base, ast.Name) and base.id not in seen else None
        if ident(base) == "TypedDict" or (isinstance(inherited, ast.ClassDef)
                                          and _typed_kind(defs, inherited, seen | {cls.name}) == "TypedDict"):
            return "TypedDict"
    return ""


def _fields(defs: dict[str, ast.FunctionDef | ast.ClassDef], cls: ast.ClassDef, seen: set[str], out: Reads) -> None:
    kind_ = _typed_kind(defs, cls, set())
    seen.add(cls.name)
    for base in cls.bases:
        inherited = defs.get(base.id) if isinstance(base, ast.Name) else None
        if isinstance(inherited, ast.ClassDef) and inherited.name not in seen \
                and _typed_kind(defs, inherited, set()):
            _fields(defs, inherited, seen, out)
        elif ident(base) not in ("TypedDict", "object"):
            out.open = True  # fields from elsewhere
    total = not any(k.arg == "total" and isinstance(k.value, ast.Constant) and k.value.value is False
                    for k in cls.keywords)
    for stmt in cls.body:
        if not isinstance(stmt, ast.AnnAssign) or not isinstance(stmt.target, ast.Name):
            continue
        wrapper, annotation = _unwrap(stmt.annotation)
        if wrapper == "ClassVar" or ident(annotation) == "KW_ONLY":
            continue
        key = out.keys[stmt.target.id] = Key(stmt.lineno)
        if kind_ == "TypedDict":
            required = wrapper == "Required" or (total and wrapper != "NotRequired")
        else:
            required = stmt.value is None or (
                isinstance(stmt.value, ast.Call) and ident(stmt.value.func) == "field"
                and not any(k.arg in ("default", "default_factory") for k in stmt.value.keywords))
        if required:
            key.required = f"field {stmt.target.id} of {cls.name} has no default"
        expect = expectation(annotation)
        if expect is not None:
            key.expects.append((expect, f"{cls.name} declares it `{short(annotation)}`", stmt.lineno))


def _unwrap(annotation: ast.expr) -> tuple[str, ast.expr]:
    """``(wrapper, type)`` of ``Required[X]``, ``NotRequired[X]``, ``ClassVar[X]``, ``Annotated[X, …]`` …"""
    wrapper = "ClassVar" if ident(annotation) == "ClassVar" else ""
    while isinstance(annotation, ast.Subscript) and ident(annotation.value) in _WRAPPERS:
        if not wrapper and ident(annotation.value) in ("Required", "NotRequired", "ClassVar"):
            wrapper = ident(annotation.value)
        annotation = annotation.slice.elts[0] if isinstance(annotation.slice, ast.Tuple) else annotation.slice
    return wrapper, annotation


def expectation(node: ast.expr) -> Expect | None:
    """The :class:`Expect` of a type annotation, or ``None`` when it says nothing checkable."""
    if (text := string(node)) is not None:
        try:
            return expectation(ast.parse(text, mode="eval").body)
        except SyntaxError:
            return None
    node = _unwrap(node)[1]
    parts: list[ast.expr] | None = None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        parts = [node.left, node.right]
    elif isinstance(node, ast.Subscript) and ident(node.value) in ("Optional", "Union"):
        parts = list(node.slice.elts) if isinstance(node.slice, ast.Tuple) else [node.slice]
    if parts is not None:
        options = [expectation(p) for p in parts if not (isinstance(p, ast.Constant) and p.value is None)]
        found = [o for o in options if o is not None]
        if len(found) < len(options) or not found:
            return None
        return found[0] if len(found) == 1 else Expect(" or ".join(o.text for o in found), options=tuple(found))
    if isinstance(node, ast.Name | ast.Attribute) and ident(node) in _TYPES:
        return _TYPES[ident(node)]
    if isinstance(node, ast.Name | ast.Attribute) and ident(node) in _SEQUENCES:
        return SEQUENCE
    if isinstance(node, ast.Subscript) and ident(node.value) in _SEQUENCES:
        items = list(node.slice.elts) if isinstance(node.slice, ast.Tuple) else [node.slice]
        items = [i for i in items if not (isinstance(i, ast.Constant) and i.value is Ellipsis)]
        each = [expectation(i) for i in items]
        return list_of(each[0] if len(set(each)) == 1 else None)
    if isinstance(node, ast.Subscript) and ident(node.value) == "Literal":
        values = list(node.slice.elts) if isinstance(node.slice, ast.Tuple) else [node.slice]
        if all(isinstance(v, ast.Constant) and kind(v.value) in _SCALARS for v in values):
            choices = tuple(v.value for v in values if isinstance(v, ast.Constant))
            return Expect("one of " + ", ".join(repr(c) for c in choices), choices=choices)
    return None

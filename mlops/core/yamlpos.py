"""YAML loading that keeps the source position of every key and value.

Safe loading only (no Python tags), duplicate keys are errors, alias expansion is bounded (an
"alias bomb" is refused instead of eating the machine), and every failure is a :class:`Problem`
at the line and column where it happens.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mlops.core.errors import Problem, UserError

try:  # the C parser is several times faster; both give the same nodes
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - libyaml missing
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

MAX_NODES = 100_000
MAX_DEPTH = 64
MAX_BYTES = 4 * 1024 * 1024

Path_ = tuple[str | int, ...]
_CONSTRUCTOR = yaml.SafeLoader("")
_SCALARS = {
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:timestamp",
}
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_STR = "tag:yaml.org,2002:str"


def _tag(tag: str) -> str:
    """A tag as the user wrote it: ``!!python/object`` rather than ``tag:yaml.org,2002:python/object``."""
    return "!!" + tag.removeprefix("tag:yaml.org,2002:") if tag.startswith("tag:yaml.org,2002:") else tag


@dataclass
class Document:
    """A parsed YAML file: the plain data and where each part of it came from."""

    path: str
    data: Any
    values: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path_, tuple[int, int]] = field(default_factory=dict)

    def where(self, loc: Path_, *, key: bool = False) -> tuple[int, int]:
        """Best position for ``loc``: the key (or value) itself, else its nearest known parent."""
        loc = tuple(loc)
        while True:
            table = self.keys if key else self.values
            if loc in table:
                return table[loc]
            if loc in self.values:
                return self.values[loc]
            if not loc:
                return (1, 1)
            loc = loc[:-1]
            key = True

    def problem(self, loc: Path_, message: str, *, key: bool = False) -> Problem:
        line, col = self.where(loc, key=key)
        return Problem(self.path, line, col, message)


class _Walker:
    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.count = 0
        self.problems: list[Problem] = []

    def _pos(self, node: yaml.Node) -> tuple[int, int]:
        return (node.start_mark.line + 1, node.start_mark.column + 1)

    def _fail(self, node: yaml.Node, message: str) -> UserError:
        line, col = self._pos(node)
        return UserError(Problem(self.doc.path, line, col, message))

    def build(self, node: yaml.Node, loc: Path_, depth: int) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            line, col = self.doc.keys.get(loc[:1], self._pos(node))
            raise UserError(Problem(self.doc.path, line, col, f"document expands to more than {MAX_NODES} nodes "
                                    "(an alias bomb?); expected a plain configuration file"))
        if depth > MAX_DEPTH:
            raise self._fail(node, f"nesting deeper than {MAX_DEPTH} levels (a recursive alias?)")
        self.doc.values.setdefault(loc, self._pos(node))
        if isinstance(node, yaml.MappingNode):
            if node.tag != _MAP:
                raise self._fail(node, f"unsupported YAML tag '{_tag(node.tag)}'; expected a plain mapping")
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    raise self._fail(key_node, "YAML merge keys ('<<') are not supported; write the keys out")
                if not isinstance(key_node, yaml.ScalarNode):
                    raise self._fail(key_node, "mapping keys must be plain strings, not a list or a mapping")
                if key_node.tag != _STR:
                    raise self._fail(key_node, self._key_message(key_node))
                key = self.build(key_node, (*loc, "<key>"), depth + 1)
                if key in out:
                    first = self.doc.keys.get((*loc, key), (0, 0))[0]
                    line, col = self._pos(key_node)
                    self.problems.append(Problem(self.doc.path, line, col,
                                                 f"duplicate key '{key}' (first defined on line {first})"))
                    continue
                self.doc.keys[(*loc, key)] = self._pos(key_node)
                out[key] = self.build(value_node, (*loc, key), depth + 1)
            return out
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _SEQ:
                raise self._fail(node, f"unsupported YAML tag '{_tag(node.tag)}'; expected a plain list")
            return [self.build(item, (*loc, i), depth + 1) for i, item in enumerate(node.value)]
        if node.tag not in _SCALARS:
            raise self._fail(node, f"unsupported YAML tag '{_tag(node.tag)}'; expected plain YAML values")
        return _CONSTRUCTOR.construct_object(node, deep=True)

    @staticmethod
    def _key_message(node: yaml.ScalarNode) -> str:
        if node.tag in _SCALARS:
            kind = _tag(node.tag).removeprefix("!!")
            kind = {"null": "null (empty)", "bool": "a boolean", "int": "a number", "float": "a number"}.get(kind, kind)
            return f"key {node.value!r} reads as {kind} in YAML; expected a string key (quote it: \"{node.value}\")"
        return f"unsupported YAML tag '{_tag(node.tag)}' on a key; expected a plain string key"


def parse(text: str, path: str) -> Document:
    """Parse YAML ``text`` (named ``path`` in messages) into a :class:`Document`."""
    doc = Document(path=path, data=None)
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        reason = exc.problem or exc.context or "invalid YAML"
        char = text[mark.index:mark.index + 1] if mark else ""
        if reason == "found character that cannot start any token" and char in ("@", "`"):
            reason = f"{char!r} cannot start a plain YAML value; expected it quoted (e.g. \"@octocat\")"
        raise UserError(Problem(path, line, col, f"YAML syntax error: {reason}")) from None
    except yaml.reader.ReaderError as exc:
        before = text[: exc.position]
        line, col = before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1
        char = chr(exc.character) if isinstance(exc.character, int) else exc.character
        raise UserError(Problem(path, line, col, f"invalid character {char!r} ({exc.reason}); "
                                "expected printable text")) from None
    except yaml.YAMLError as exc:
        raise UserError(Problem(path, 1, 1, f"YAML error: {exc}")) from None
    if root is None:
        raise UserError(Problem(path, 1, 1, "file is empty; expected a YAML mapping"))
    walker = _Walker(doc)
    doc.data = walker.build(root, (), 0)
    if walker.problems:
        raise UserError(walker.problems)
    if doc.data is None:
        raise UserError(Problem(path, 1, 1, "document is empty; expected a YAML mapping"))
    if not isinstance(doc.data, dict):
        raise UserError(Problem(path, 1, 1, f"expected a YAML mapping at the top level, got a {_kind(doc.data)}"))
    return doc


def load(file: Path, display: str | None = None) -> Document:
    """Read and parse a YAML file; binary, oversized and non-UTF-8 files are clear errors."""
    name = display or str(file)
    try:
        if file.is_dir():
            raise IsADirectoryError(file)
        if file.exists() and not file.is_file():
            raise UserError(Problem(name, 1, 1, "not a regular file; expected a YAML file"))
        if file.stat().st_size > MAX_BYTES:
            raise UserError(Problem(name, 1, 1, f"file is larger than {MAX_BYTES // 1024 // 1024} MiB; "
                                    "expected a small YAML file"))
        raw = file.read_bytes()
    except FileNotFoundError:
        raise UserError(Problem(name, 1, 1, "file not found")) from None
    except IsADirectoryError:
        raise UserError(Problem(name, 1, 1, "is a directory; expected a YAML file")) from None
    except OSError as exc:
        raise UserError(Problem(name, 1, 1, f"cannot read the file ({exc.strerror or exc}); expected a readable "
                                "YAML file")) from None
    if len(raw) > MAX_BYTES:  # grew since stat()
        raise UserError(Problem(name, 1, 1, f"file is larger than {MAX_BYTES // 1024 // 1024} MiB; "
                                "expected a small YAML file"))
    if b"\x00" in raw:
        raise UserError(Problem(name, 1, 1, "binary file (contains NUL bytes); expected UTF-8 YAML text"))
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        prefix = before[before.rfind(b"\n") + 1:].removeprefix(b"\xef\xbb\xbf")
        col = len(prefix.decode("utf-8", errors="replace")) + 1  # characters, as YAML positions count them
        raise UserError(Problem(name, line, col, "not valid UTF-8; expected UTF-8 YAML text")) from None
    if not text.strip():
        raise UserError(Problem(name, 1, 1, "file is empty; expected a YAML mapping"))
    return parse(text, name)


def _kind(value: Any) -> str:
    return {list: "list", str: "string", int: "number", float: "number", bool: "boolean"}.get(type(value), "scalar")

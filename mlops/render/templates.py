"""The jinja2 templates: shipped in ``mlops/render/templates/``, overridable per file from the repository's
``environments/templates/<same file name>``.

Templates run in jinja2's immutable sandbox with ``StrictUndefined`` (a template change in a pull request
cannot reach Python internals, and a misspelt variable is an error, not an empty string). Each template
renders zero or more YAML documents (none: no file); structured values go in as ``{{ value | tojson }}``
(JSON is YAML). The variables each template gets are listed in :mod:`mlops.render.objects` and
:mod:`mlops.render.training`. Whatever a template writes is re-serialised (sorted keys, block style), so
only the objects matter, not the template's formatting. Files in the override directory that do not end
in ``.j2`` (a README) are ignored; a ``.j2`` file with no built-in of the same name is an error.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import jinja2
import yaml
from jinja2.sandbox import ImmutableSandboxedEnvironment
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from mlops.core.errors import Problem, UserError

try:
    from yaml import CSafeDumper as _BaseDumper
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - libyaml missing
    from yaml import SafeDumper as _BaseDumper  # type: ignore[assignment]
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

PACKAGE_DIR = Path(__file__).resolve().parent / "templates"
PACKAGE_DISPLAY = "mlops/render/templates"
OVERRIDE_DIR = "environments/templates"
SUFFIX = ".j2"


STR = "tag:yaml.org,2002:str"
MAX_NODES = 100_000  # per template output: an alias bomb in an override template is refused


class _Dumper(_BaseDumper):
    """PyYAML's emitter, fed nodes built directly from plain data; implicit-tag checks are memoised."""

    _memo: ClassVar[dict[tuple[str, Any], Any]] = {}

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is not ScalarNode:
            return super().resolve(kind, value, implicit)
        key = (value, implicit if isinstance(implicit, bool) else tuple(implicit))
        tag = self._memo.get(key)
        if tag is None:
            tag = self._memo[key] = super().resolve(kind, value, implicit)
        return tag


_REPRESENTER = yaml.SafeDumper(None)  # type: ignore[arg-type]  # represents the rare floats


def _node(value: Any) -> Node:
    if isinstance(value, str):
        literal = "\n" in value and all(line == line.rstrip() for line in value.splitlines())
        return ScalarNode(STR, value, style="|" if literal else None)
    if isinstance(value, dict):
        return MappingNode("tag:yaml.org,2002:map", [(_node(k), _node(value[k])) for k in sorted(value)],
                           flow_style=False)
    if isinstance(value, list):
        return SequenceNode("tag:yaml.org,2002:seq", [_node(v) for v in value], flow_style=False)
    if value is None:
        return ScalarNode("tag:yaml.org,2002:null", "null")
    if isinstance(value, bool):
        return ScalarNode("tag:yaml.org,2002:bool", "true" if value else "false")
    if isinstance(value, int):
        return ScalarNode("tag:yaml.org,2002:int", str(value))
    return _REPRESENTER.represent_data(value)


def to_yaml(objects: list[dict[str, Any]]) -> str:
    """Objects as a deterministic YAML stream: sorted keys, block style, literal multi-line strings, no folding."""
    return yaml.serialize_all([_node(o) for o in objects], Dumper=_Dumper, allow_unicode=True, width=4096,
                              explicit_start=len(objects) > 1)


class _Loader(_BaseLoader):
    _memo: ClassVar[dict[tuple[str, Any], Any]] = {}

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is not ScalarNode:
            return super().resolve(kind, value, implicit)
        key = (value, tuple(implicit))
        tag = self._memo.get(key)
        if tag is None:
            tag = self._memo[key] = super().resolve(kind, value, implicit)
        return tag


_CONSTRUCTOR = yaml.SafeLoader("")


class _Builder:
    """Plain data from composed nodes: faster than PyYAML's constructor, refuses duplicate keys and bombs."""

    def __init__(self) -> None:
        self.count = 0

    def build(self, node: Node) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise ValueError(f"output expands to more than {MAX_NODES} nodes (an alias bomb?)")
        if isinstance(node, ScalarNode):
            return node.value if node.tag == STR else _CONSTRUCTOR.construct_object(node)
        if isinstance(node, SequenceNode):
            return [self.build(item) for item in node.value]
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = self.build(key_node)
            if key in out:
                raise ValueError(f"duplicate key {key!r} at line {key_node.start_mark.line + 1} of the output")
            out[key] = self.build(value_node)
        return out


def parse_yaml(text: str) -> list[Any]:
    """The documents of a YAML stream (empty documents dropped)."""
    builder = _Builder()
    return [builder.build(node) for node in yaml.compose_all(text, Loader=_Loader) if node is not None]


def builtin_names() -> list[str]:
    return sorted(p.name for p in PACKAGE_DIR.glob(f"*{SUFFIX}"))


class Templates:
    """The template set of one repository (built-ins with the repository's overrides on top)."""

    def __init__(self, root: Path | None = None) -> None:
        self.override_dir = root / OVERRIDE_DIR if root is not None else None
        self.overrides: set[str] = set()
        loaders: list[jinja2.BaseLoader] = []
        if self.override_dir is not None and self.override_dir.is_dir():
            self.overrides = {p.name for p in self.override_dir.glob(f"*{SUFFIX}") if p.is_file()}
            unknown = sorted(n for n in self.overrides if n not in builtin_names())
            if unknown:
                raise UserError([Problem(f"{OVERRIDE_DIR}/{n}", 1, 1, f"unknown template {n!r}; an override must "
                                         f"have the name of a built-in template: {builtin_names()}") for n in unknown])
            loaders.append(jinja2.FileSystemLoader(self.override_dir))
        loaders.append(jinja2.FileSystemLoader(PACKAGE_DIR))
        self.env = ImmutableSandboxedEnvironment(
            loader=jinja2.ChoiceLoader(loaders), undefined=jinja2.StrictUndefined, autoescape=False,
            keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True, auto_reload=False,
        )
        self.env.filters["tojson"] = _tojson
        self._cache: dict[str, jinja2.Template] = {}

    def display(self, name: str) -> str:
        """Where template ``name`` comes from, as a path for messages."""
        return f"{OVERRIDE_DIR}/{name}" if name in self.overrides else f"{PACKAGE_DISPLAY}/{name}"

    def _template(self, name: str) -> jinja2.Template:
        template = self._cache.get(name)
        if template is None:
            try:
                template = self.env.get_template(name)
            except jinja2.TemplateSyntaxError as exc:
                raise UserError(Problem(self.display(name), exc.lineno or 1, 1,
                                        f"template syntax error: {exc.message}")) from None
            except jinja2.TemplateNotFound:
                raise UserError(Problem(self.display(name), 1, 1, "template not found")) from None
            self._cache[name] = template
        return template

    def render(self, name: str, context: dict[str, Any]) -> list[dict[str, Any]]:
        """Render template ``name`` and parse its YAML documents (empty documents are dropped)."""
        where = self.display(name)
        try:
            text = self._template(name).render(context)
        except jinja2.UndefinedError as exc:
            raise UserError(Problem(where, _lineno(exc, name), 1, f"template error: {exc.message}; "
                                    f"expected one of the documented variables")) from None
        except (jinja2.TemplateError, TypeError, ValueError) as exc:
            raise UserError(Problem(where, _lineno(exc, name), 1, f"template error: {exc}")) from None
        try:
            docs = [d for d in parse_yaml(text) if d is not None]
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark
            line = f" at line {mark.line + 1} of the output" if mark else ""
            raise UserError(Problem(where, 1, 1, f"template output is not valid YAML{line}: {exc.problem}")) from None
        except (yaml.YAMLError, ValueError) as exc:
            raise UserError(Problem(where, 1, 1, f"template output is not usable YAML: {exc}")) from None
        for doc in docs:
            if not isinstance(doc, dict) or not isinstance(doc.get("kind"), str):
                raise UserError(Problem(where, 1, 1, "template output must be Kubernetes objects "
                                        "(YAML mappings with apiVersion, kind and metadata.name)"))
        return docs


def _tojson(value: Any) -> str:
    """``value`` as JSON (valid YAML); an undefined variable is an error naming it, not a TypeError."""
    if isinstance(value, jinja2.Undefined):
        value._fail_with_undefined_error()
    return json.dumps(value, sort_keys=True)


def _lineno(exc: BaseException, name: str) -> int:
    """The template line of the frame that raised, from jinja2's rewritten traceback."""
    tb = exc.__traceback__
    line = 1
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.endswith(name):
            line = tb.tb_lineno
        tb = tb.tb_next
    return line

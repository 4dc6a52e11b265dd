"""What ``build(params, …)`` reads from ``params``: found with ``ast`` in the user's ``model.py``, never imported.

Sound, not clever. A key counts as read through ``params["k"]``, ``params.get/pop/setdefault("k", …)`` and
``"k" in params``, also inside top-level functions and classes (``__init__``) of the module that ``params`` is
passed to. Any other use (iterated, ``**params``, stored, returned, passed elsewhere) leaves the set of names
*open*: then only what is certain is reported. A ``TypedDict`` or ``@dataclass`` annotation on ``params`` is a
typed contract: its fields are the names, their annotations the types.
"""

from __future__ import annotations

import ast
import difflib
import re
from collections.abc import Iterator, Mapping

from mlops.core.contract_types import (
    NUMBER,
    SCALAR,
    SEQUENCE,
    TRUTHY,
    Key,
    Reads,
    ident,
    kind,
    list_of,
    short,
    string,
    typed,
)
from mlops.core.errors import Problem
from mlops.core.yamlpos import Document

MAX_DEPTH = 8  # calls followed from build() before giving up (the set of names is then open)
_HARMLESS = frozenset({"len", "isinstance"})  # builtins that take params whole but read no key
_WRAPS = {"int": NUMBER, "float": NUMBER, "bool": TRUTHY, "str": SCALAR, "list": SEQUENCE, "tuple": SEQUENCE}
_COMPS = (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)


def reads(tree: ast.Module, build: ast.FunctionDef) -> Reads:
    """The names ``build`` reads from its first parameter (``open`` when it cannot tell them all)."""
    positional = [*build.args.posonlyargs, *build.args.args]
    if not positional:
        return Reads(open=True)
    found = _Module(tree)
    declared = typed(found.defs, positional[0].annotation)
    if declared is not None:
        return declared
    found.function(build, positional[0].arg, conditional=False, depth=0)
    return found.reads


def problems(rel: str, tree: ast.Module, build: ast.FunctionDef, doc: Document,
             params: Mapping[str, object]) -> Iterator[Problem]:
    """``params`` of model.yaml (``doc``) against what ``build()`` reads: unknown names, missing ones, wrong types."""
    found = reads(tree, build)
    names = ", ".join(sorted(found.keys)) or "no params"
    for key, value in params.items():
        read = found.keys.get(key)
        if read is None:
            if found.open:
                continue
            close = difflib.get_close_matches(key, found.keys, n=1)
            where = (f"is not a field of {found.typed}, the type of build()'s params in {rel} ({names})"
                     if found.typed else f"is not read by build() in {rel} (it reads {names})")
            expected = ("one of those" if found.keys else "build() to read it") + (
                f" — a typo of {close[0]!r}?" if close else ", or remove it")
            yield doc.problem(("params", key), f"params.{key} {where}; expected {expected}", key=True)
            continue
        for expect, who, line in read.expects:
            if not expect.accepts(value):
                yield doc.problem(("params", key), f"params.{key} is {_value(value)} but {who} ({rel}:{line}); "
                                                   f"expected {expect.text}{_yaml_hint(value)}")
                break
    for key, read in sorted(found.keys.items()):
        if read.required and not read.guarded and key not in params:
            at = ("params",) if ("params",) in doc.keys else ("name",)
            yield doc.problem(at, f"params.{key} is not set but {read.required} ({rel}:{read.line}); expected "
                                  f"{key} under params", key=True)


def _value(value: object) -> str:
    text = ("true" if value else "false") if isinstance(value, bool) else repr(value)
    text = text if len(text) <= 40 else text[:37] + "..."
    kinds = {"bool": "a boolean", "int": "an integer", "float": "a float", "str": "a string", "list": "a list"}
    return f"{kinds.get(kind(value), 'a value')} ({text})"


def _yaml_hint(value: object) -> str:
    """A number that YAML read as a string: quoted, or ``1e-3`` (YAML 1.1 floats need a dot and a signed exponent)."""
    if not isinstance(value, str) or not re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", value):
        return ""
    if "e" not in value.lower():
        return " (a quoted number; write it without quotes)"
    mantissa, _, exponent = repr(float(value)).partition("e")
    if exponent:
        mantissa += "" if "." in mantissa else ".0"
        exponent = "e" + ("" if exponent[0] in "+-" else "+") + exponent
    return f" (YAML reads {value} as a string; write {mantissa}{exponent})"


class _Module:
    def __init__(self, tree: ast.Module) -> None:
        counts: dict[str, int] = {}
        for node in tree.body:
            for target in _binds(node):
                counts[target] = counts.get(target, 0) + 1
        self.defs = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)
                     and counts[n.name] == 1}  # a name bound twice is ambiguous: not followed
        self.bound = set(counts)
        self.reads = Reads()
        self.seen: set[tuple[str, str]] = set()

    def function(self, fn: ast.FunctionDef, name: str, *, conditional: bool, depth: int) -> None:
        if (fn.name, name) in self.seen:
            return
        self.seen.add((fn.name, name))
        parents: dict[ast.AST, ast.AST] = {}
        for stmt in fn.body:
            parents[stmt] = fn
            for node in ast.walk(stmt):
                for child in ast.iter_child_nodes(node):
                    parents[child] = node
        for node in parents:
            if name in _binds(node) or (isinstance(node, ast.arg) and node.arg == name):  # rebound, or shadowed
                self.reads.open = True
            elif isinstance(node, ast.Name) and node.id == name:
                if isinstance(node.ctx, ast.Load):
                    self._use(node, parents, fn, conditional, depth)
                else:
                    self.reads.open = True  # rebound: later uses are not the spec's mapping

    def _use(self, node: ast.Name, parents: dict[ast.AST, ast.AST], fn: ast.FunctionDef, conditional: bool,
             depth: int) -> None:
        parent = parents[node]
        where = f"{fn.name}()"
        maybe = conditional or _conditional(node, parents, fn)
        if isinstance(parent, ast.Subscript) and parent.value is node and (key := string(parent.slice)) is not None:
            found = self.reads.key(key, parent.lineno)
            if not isinstance(parent.ctx, ast.Load):
                found.guarded = True
            elif not maybe and not found.required:
                found.required, found.line = f"{where} reads params[{key!r}] without a default", parent.lineno
            self._expect(found, parent, parents, None, where)
            return
        call = parents.get(parent)
        if (isinstance(parent, ast.Attribute) and parent.attr in ("get", "pop", "setdefault")
                and isinstance(call, ast.Call) and call.func is parent and 1 <= len(call.args) <= 2
                and not call.keywords and (key := string(call.args[0])) is not None):
            found = self.reads.key(key, call.lineno)
            default = call.args[1] if len(call.args) == 2 else None
            found.guarded |= parent.attr == "setdefault"
            if parent.attr == "pop" and default is None and not maybe and not found.required:
                found.required, found.line = f"{where} reads params.pop({key!r}) without a default", call.lineno
            self._expect(found, call, parents, default, where)
            return
        if (isinstance(parent, ast.Compare) and parent.comparators == [node]
                and isinstance(parent.ops[0], ast.In | ast.NotIn) and (key := string(parent.left)) is not None):
            self.reads.key(key, parent.lineno).guarded = True
            return
        if isinstance(parent, ast.If | ast.While | ast.Assert) and parent.test is node:
            return  # truthiness
        if isinstance(parent, ast.UnaryOp) and isinstance(parent.op, ast.Not):
            return
        if isinstance(parent, ast.Compare) and all(isinstance(op, ast.Is | ast.IsNot) for op in parent.ops):
            return
        if isinstance(parent, ast.Call) and node in parent.args and ident(parent.func) in _HARMLESS \
                and isinstance(parent.func, ast.Name) and parent.func.id not in self.bound:
            return
        if not self._follow(node, parent, parents, conditional or maybe, depth):
            self.reads.open = True

    def _follow(self, node: ast.Name, parent: ast.AST, parents: dict[ast.AST, ast.AST], conditional: bool,
                depth: int) -> bool:
        """``helper(params)`` or ``Net(cfg=params)`` with a top-level ``def``/``class`` of the module."""
        call, index, keyword = parent, -1, None
        if isinstance(parent, ast.keyword) and parent.arg is not None:
            call, keyword = parents[parent], parent.arg
        elif isinstance(parent, ast.Call) and node in parent.args:
            if any(isinstance(a, ast.Starred) for a in parent.args):
                return False
            index = parent.args.index(node)
        if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name) or depth >= MAX_DEPTH:
            return False
        target = self.defs.get(call.func.id)
        offset = 0
        if isinstance(target, ast.ClassDef):
            if target.decorator_list or target.keywords:
                return False
            inits = [s for s in target.body if isinstance(s, ast.FunctionDef) and s.name == "__init__"]
            target, offset = (inits[0], 1) if len(inits) == 1 else (None, 0)
        if not isinstance(target, ast.FunctionDef) or target.decorator_list:
            return False
        positional = [*target.args.posonlyargs, *target.args.args]
        if keyword is not None:
            names = [a.arg for a in (*target.args.args, *target.args.kwonlyargs)]
            if keyword not in names:
                return False
            callee = keyword
        elif index + offset < len(positional):
            callee = positional[index + offset].arg
        else:
            return False
        self.function(target, callee, conditional=conditional, depth=depth + 1)
        return True

    def _expect(self, key: Key, read: ast.expr, parents: dict[ast.AST, ast.AST], default: ast.expr | None,
                where: str) -> None:
        """The type the read's own code implies: a wrapping call, a loop over it, or a literal default."""
        parent = parents.get(read)
        line = read.lineno
        if (isinstance(parent, ast.Call) and parent.args == [read] and not parent.keywords
                and isinstance(parent.func, ast.Name) and parent.func.id in _WRAPS
                and parent.func.id not in self.bound):
            key.expects.append((_WRAPS[parent.func.id], f"{where} reads it with {parent.func.id}(…)", line))
        elif isinstance(parent, ast.comprehension) and parent.iter is read:
            comp = parents.get(parent)
            elt = comp.elt if isinstance(comp, ast.ListComp | ast.SetComp | ast.GeneratorExp) else None
            item = None
            if (isinstance(elt, ast.Call) and isinstance(elt.func, ast.Name) and elt.func.id in ("int", "float")
                    and len(elt.args) == 1 and isinstance(elt.args[0], ast.Name) and isinstance(parent.target, ast.Name)
                    and elt.args[0].id == parent.target.id and elt.func.id not in self.bound):
                item = NUMBER
            key.expects.append((list_of(item), f"{where} iterates over it", line))
        elif isinstance(parent, ast.For) and parent.iter is read:
            key.expects.append((SEQUENCE, f"{where} iterates over it", line))
        negative = isinstance(default, ast.UnaryOp) and isinstance(default.op, ast.USub)
        value = default.operand if isinstance(default, ast.UnaryOp) and negative else default  # -1, -0.5
        if default is not None and isinstance(value, ast.Constant) and kind(value.value) != "other" \
                and (not negative or kind(value.value) in ("int", "float")):
            expect = {"bool": TRUTHY, "str": SCALAR}.get(kind(value.value), NUMBER)
            key.expects.append((expect, f"{where} defaults it to {short(default)}", line))
        elif isinstance(default, ast.List | ast.Tuple | ast.ListComp):
            key.expects.append((SEQUENCE, f"{where} defaults it to {short(default)}", line))


def _binds(node: ast.AST) -> list[str]:
    """Names a statement or node binds in its scope."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return [node.name]
    if isinstance(node, ast.Import | ast.ImportFrom):
        return [(a.asname or a.name).split(".")[0] for a in node.names]
    if isinstance(node, ast.Global | ast.Nonlocal):
        return list(node.names)
    if isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar) and node.name:
        return [node.name]
    if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)]
    return []


def _conditional(node: ast.AST, parents: dict[ast.AST, ast.AST], fn: ast.FunctionDef) -> bool:
    """Whether ``node`` may not run when ``fn`` returns normally (a branch, a loop body, after a ``return``)."""
    child, parent = node, parents[node]
    while parent is not fn:
        if isinstance(parent, ast.If | ast.IfExp | ast.While) and child is not parent.test:
            return True
        if isinstance(parent, ast.For | ast.AsyncFor) and child is not parent.iter:
            return True
        if isinstance(parent, ast.Match) and child is not parent.subject:
            return True
        if isinstance(parent, ast.BoolOp) and child is not parent.values[0]:
            return True
        if isinstance(parent, ast.comprehension):
            comp = parents[parent]
            if child is not parent.iter or not isinstance(comp, _COMPS) or comp.generators[0] is not parent:
                return True
        if isinstance(parent, _COMPS) and not isinstance(child, ast.comprehension):
            return True
        if isinstance(parent, ast.Try | ast.TryStar | ast.With | ast.AsyncWith | ast.Lambda | ast.ExceptHandler
                      | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            return True  # a handler or a context manager may swallow the KeyError; a nested scope may not run
        child, parent = parent, parents[parent]
    earlier = fn.body[: fn.body.index(child)]  # type: ignore[arg-type]
    return any(isinstance(n, ast.Return) for s in earlier for n in ast.walk(s))

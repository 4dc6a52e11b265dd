"""Slice expressions (``evaluation.slices[].where``): a small, safe language over feature columns.

An expression is parsed with :mod:`ast` and checked against a whitelist before anything runs; it is then
evaluated by the walker below over numpy columns — never by ``eval``. Allowed: feature names (the columns of
``data.features``, as numbers; a bool feature is 0 or 1), number literals, ``+ - * /``, unary ``-``/``+``,
comparisons (``< <= > >= == !=``, chained like ``12 <= mean_radius < 15``) and ``and``/``or``/``not`` over
conditions. Anything else — calls, attributes, subscripts, strings, lambdas, ``**`` — is refused with the
character where it starts. The whole expression must be a condition (true or false per row).

Division by zero gives ±inf or NaN, and a comparison with NaN is false: such rows fall outside the slice.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # numpy is imported where an expression is evaluated, not where a spec is validated
    import numpy.typing as npt

MAX_LENGTH = 500
MAX_NODES = 200
HELP = ("expected comparisons of feature names and numbers (+ - * /), joined by and, or, not — e.g. "
        "'mean_radius >= 15 and mean_texture < 20'")

Kind = Literal["condition", "number"]
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Eq: operator.eq,
    ast.NotEq: operator.ne}
_ARITH: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}
_SYMBOL = {ast.Pow: "**", ast.Mod: "%", ast.FloorDiv: "//", ast.MatMult: "@", ast.BitAnd: "&", ast.BitOr: "|",
           ast.BitXor: "^", ast.LShift: "<<", ast.RShift: ">>", ast.In: "in", ast.NotIn: "not in", ast.Is: "is",
           ast.IsNot: "is not", ast.Invert: "~"}


class ExpressionError(ValueError):
    """An expression that is not allowed; ``offset`` is the 0-based character where the problem starts."""

    def __init__(self, message: str, offset: int = 0) -> None:
        super().__init__(message)
        self.offset = offset

    def __str__(self) -> str:
        return f"at character {self.offset + 1}: {self.args[0]}"


def _fail(node: ast.AST, message: str) -> ExpressionError:
    return ExpressionError(f"{message}; {HELP}", getattr(node, "col_offset", 0))


def _what(node: ast.AST) -> str:
    if isinstance(node, ast.Constant):
        return f"the {type(node.value).__name__} literal {node.value!r}"
    if isinstance(node, ast.Call):
        return "a function call"
    return {ast.Attribute: "an attribute", ast.Subscript: "a subscript", ast.Lambda: "a lambda",
            ast.IfExp: "a conditional expression", ast.NamedExpr: "an assignment"}.get(type(node),
                                                                                       f"{type(node).__name__}")


def _check(node: ast.expr) -> Kind:
    """What ``node`` gives (a condition or a number), or :class:`ExpressionError` for anything not allowed."""
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool):
            return "condition"
        if isinstance(node.value, int | float):
            return "number"
        raise _fail(node, f"{_what(node)} is not allowed")
    if isinstance(node, ast.Name):
        return "number"
    if isinstance(node, ast.UnaryOp):
        if isinstance(node.op, ast.Not):
            return _expect(node.operand, "condition", "'not' applies to a condition")
        if isinstance(node.op, ast.USub | ast.UAdd):
            return _expect(node.operand, "number", "a sign applies to a number")
        raise _fail(node, f"the operator '{_SYMBOL.get(type(node.op), type(node.op).__name__)}' is not allowed")
    if isinstance(node, ast.BinOp):
        if type(node.op) not in _ARITH:
            raise _fail(node, f"the operator '{_SYMBOL.get(type(node.op), type(node.op).__name__)}' is not allowed")
        _expect(node.left, "number", "arithmetic applies to numbers")
        return _expect(node.right, "number", "arithmetic applies to numbers")
    if isinstance(node, ast.BoolOp):
        word = "and" if isinstance(node.op, ast.And) else "or"
        for value in node.values:
            _expect(value, "condition", f"'{word}' joins conditions")
        return "condition"
    if isinstance(node, ast.Compare):
        for op in node.ops:
            if type(op) not in _COMPARE:
                raise _fail(node, f"the comparison '{_SYMBOL.get(type(op), type(op).__name__)}' is not allowed")
        for side in (node.left, *node.comparators):
            _expect(side, "number", "comparisons apply to numbers")
        return "condition"
    raise _fail(node, f"{_what(node)} is not allowed")


def _expect(node: ast.expr, kind: Kind, why: str) -> Kind:
    found = _check(node)
    if found != kind:
        raise _fail(node, f"{why}, but this is a {found}")
    return kind


def parse(text: str) -> ast.expr:
    """The checked syntax tree of a slice expression, or :class:`ExpressionError` saying what is not allowed."""
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"the expression has {len(text)} characters; expected at most {MAX_LENGTH}")
    if not text.strip():
        raise ExpressionError(f"the expression is empty; {HELP}")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"not a valid expression ({exc.msg}); {HELP}", max((exc.offset or 1) - 1, 0)) from None
    except (ValueError, RecursionError, MemoryError):
        raise ExpressionError(f"the expression cannot be parsed; {HELP}") from None
    nodes = sum(1 for _ in ast.walk(tree))
    if nodes > MAX_NODES:
        raise ExpressionError(f"the expression has {nodes} parts; expected at most {MAX_NODES}")
    if _check(tree.body) != "condition":
        raise _fail(tree.body, "the expression is a number, not a condition")
    return tree.body


def names(text: str) -> list[tuple[str, int]]:
    """The column names an (allowed) expression reads, with the 0-based character where each appears."""
    return [(node.id, node.col_offset) for node in ast.walk(parse(text)) if isinstance(node, ast.Name)]


def evaluate(text: str, columns: Mapping[str, npt.ArrayLike], rows: int) -> npt.NDArray[Any]:
    """Which of ``rows`` rows the expression holds for (bool ``[rows]``); ``columns`` maps feature names to
    their values. :class:`ExpressionError` for an expression not allowed or a name that is not a column."""
    import numpy as np

    tree = parse(text)
    with np.errstate(all="ignore"):
        value = _eval(tree, columns)
    return np.broadcast_to(np.asarray(value, dtype=bool), (rows,)).copy()


def _eval(node: ast.expr, columns: Mapping[str, npt.ArrayLike]) -> Any:
    import numpy as np

    if isinstance(node, ast.Constant) and isinstance(node.value, bool | int | float):
        return node.value if isinstance(node.value, bool) else float(node.value)
    if isinstance(node, ast.Name):
        if node.id not in columns:
            raise ExpressionError(f"{node.id!r} is not a feature column; expected one of data.features",
                                  node.col_offset)
        return np.asarray(columns[node.id], dtype=np.float64)
    if isinstance(node, ast.UnaryOp):
        operand = _eval(node.operand, columns)
        if isinstance(node.op, ast.Not):
            return np.logical_not(operand)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp):
        return _ARITH[type(node.op)](_eval(node.left, columns), _eval(node.right, columns))
    if isinstance(node, ast.BoolOp):
        combine = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
        result = _eval(node.values[0], columns)
        for value in node.values[1:]:
            result = combine(result, _eval(value, columns))
        return result
    if isinstance(node, ast.Compare):
        left, result = _eval(node.left, columns), True
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = _eval(right_node, columns)
            result = np.logical_and(result, _COMPARE[type(op)](left, right))
            left = right
        return result
    raise _fail(node, f"{_what(node)} is not allowed")  # parse() refuses these first

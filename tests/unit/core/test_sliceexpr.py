"""Slice expressions: a whitelist checked with ast and our own walker over numpy columns (never eval)."""

from __future__ import annotations

import numpy as np
import pytest

from mlops.core.sliceexpr import MAX_LENGTH, ExpressionError, evaluate, names, parse

COLUMNS = {"a": np.array([1.0, 5.0, 10.0, 15.0]), "b": np.array([0.0, 1.0, 0.0, 2.0])}


@pytest.mark.parametrize(("text", "rows"), [
    ("a >= 10", [False, False, True, True]),
    ("5 <= a < 15", [False, True, True, False]),
    ("a > 1 and b == 0", [False, False, True, False]),
    ("a < 5 or b > 1", [True, False, False, True]),
    ("not (a > 1)", [True, False, False, False]),
    ("a * 2 - b >= 20", [False, False, True, True]),
    ("-a < -9", [False, False, True, True]),
    ("a / b > 4", [True, True, True, True]),  # x/0 is inf: a row with b == 0 and a > 0 is in
    ("(a - a) / (b - b) > 0 or a == 1", [True, False, False, False]),  # 0/0 is NaN: never in
    ("b != 0", [False, True, False, True]),
    ("True", [True, True, True, True]),
])
def test_expressions_select_rows(text: str, rows: list[bool]) -> None:
    assert evaluate(text, COLUMNS, 4).tolist() == rows


@pytest.mark.parametrize(("text", "says", "at"), [
    ("__import__('os').system('true')", "a function call is not allowed", 1),
    ("a.real > 1", "an attribute is not allowed", 1),
    ("a[0] > 1", "a subscript is not allowed", 1),
    ("(lambda: 1)() > 0", "a function call is not allowed", 1),
    ("a ** 2 > 1", "the operator '**' is not allowed", 1),
    ("a % 2 == 0", "the operator '%' is not allowed", 1),
    ("a > 'x'", "the str literal 'x' is not allowed", 5),
    ("a in (1, 2)", "the comparison 'in' is not allowed", 1),
    ("[x for x in a] == 1", "ListComp", 1),
    ("(y := 3) > 1", "an assignment is not allowed", 2),
    ("a if b else 1 > 0", "a conditional expression is not allowed", 1),
    ("a and b > 1", "'and' joins conditions, but this is a number", 1),
    ("not a", "'not' applies to a condition, but this is a number", 5),
    ("(a > 1) + 1 > 0", "arithmetic applies to numbers, but this is a condition", 2),
    ("a + 1", "the expression is a number, not a condition", 1),
    ("a > > 1", "not a valid expression (invalid syntax)", 5),
    ("", "the expression is empty", 1),
])
def test_anything_else_is_refused_with_its_position(text: str, says: str, at: int) -> None:
    with pytest.raises(ExpressionError) as err:
        parse(text)
    assert says in str(err.value) and str(err.value).startswith(f"at character {at}: ")


def test_refusal_comes_before_anything_runs() -> None:
    calls: list[str] = []

    class Spy(dict[str, np.ndarray]):
        def __getitem__(self, key: str) -> np.ndarray:
            calls.append(key)
            return super().__getitem__(key)

    with pytest.raises(ExpressionError):
        evaluate("a > 1 and open('/etc/passwd')", Spy(COLUMNS), 4)
    assert calls == []


def test_size_limits() -> None:
    with pytest.raises(ExpressionError, match="characters; expected at most"):
        parse("a > 1 and " * (MAX_LENGTH // 10) + "a > 1")
    with pytest.raises(ExpressionError, match="parts; expected at most"):
        parse(" and ".join(["a>1"] * 50))


def test_names_and_unknown_columns() -> None:
    assert sorted(names("a > 1 and 2 * b < a")) == [("a", 0), ("a", 18), ("b", 14)]
    with pytest.raises(ExpressionError, match="'c' is not a feature column"):
        evaluate("c > 1", COLUMNS, 4)

"""User errors carry positions and print as path:line:col: message."""

from __future__ import annotations

import pytest

from mlops.core.errors import Problem, UsageError, UserError


def test_problem_prints_its_position() -> None:
    assert str(Problem("a.yaml", 3, 7, "bad")) == "a.yaml:3:7: bad"


def test_user_error_sorts_and_deduplicates() -> None:
    err = UserError([Problem("b.yaml", 1, 1, "x"), Problem("a.yaml", 9, 1, "y"), Problem("a.yaml", 2, 5, "z"),
                     Problem("a.yaml", 2, 5, "z")])
    assert [str(p) for p in err.problems] == ["a.yaml:2:5: z", "a.yaml:9:1: y", "b.yaml:1:1: x"]
    assert str(err) == "a.yaml:2:5: z\na.yaml:9:1: y\nb.yaml:1:1: x"


def test_user_error_of_one_problem_and_at() -> None:
    assert UserError(Problem("a", 1, 2, "m")).problems == [Problem("a", 1, 2, "m")]
    assert UserError.at("f", "msg", line=4).problems == [Problem("f", 4, 1, "msg")]


def test_user_error_needs_a_problem() -> None:
    with pytest.raises(ValueError):
        UserError([])


def test_usage_error_is_separate() -> None:
    assert not issubclass(UsageError, UserError)


def test_expected_one_of_lists_sorted_names_or_says_what_to_do() -> None:
    from mlops.core.errors import expected_one_of, no_environment_named, no_model_named

    assert expected_one_of(["b", "a", "a"], empty="x") == "expected one of a, b"
    assert expected_one_of([], empty="train one first") == "train one first"
    assert expected_one_of([f"v{i}" for i in range(7)], empty="x", limit=3) == "expected one of …, v4, v5, v6"
    assert no_model_named("nope", {"m2": 1, "m1": 2}) == "no model named 'nope'; expected one of m1, m2"
    assert no_model_named("nope", []) == ("no model named 'nope'; no model exists yet (create one with "
                                          "`mlops new model NAME`)")
    assert no_environment_named("qa", ["dev"]) == "no environment named 'qa'; expected one of dev"

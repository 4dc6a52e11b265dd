"""User errors carry a position: ``path:line:col: message``. Tracebacks are for bugs only."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with the user's input, at a 1-based line and column of a file."""

    path: str
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.message}"


class UserError(Exception):
    """Bad input. The CLI prints each problem on its own line and exits 1."""

    def __init__(self, problems: Iterable[Problem] | Problem, *, context: Iterable[str] = ()) -> None:
        items = [problems] if isinstance(problems, Problem) else list(problems)
        if not items:
            raise ValueError("UserError needs at least one problem")
        self.problems: list[Problem] = sorted(set(items))
        self.context: list[str] = list(context)  # lines that explain the problems (e.g. a build log's tail)
        super().__init__("\n".join(str(p) for p in self.problems))

    @classmethod
    def at(cls, path: str, message: str, line: int = 1, col: int = 1) -> UserError:
        return cls(Problem(path, line, col, message))


class UsageError(Exception):
    """The command line itself is wrong. The CLI prints the message and exits 2."""


def expected_one_of(names: Iterable[str], *, empty: str, limit: int = 10) -> str:
    """The end of an "unknown name" message: ``expected one of a, b, c`` (the last ``limit`` names,
    sorted), or ``empty`` (what to do) when there is nothing to choose from."""
    items = sorted(set(names))
    if not items:
        return empty
    shown = items if len(items) <= limit else ["…", *items[-limit:]]
    return "expected one of " + ", ".join(shown)


def no_model_named(name: str, known: Iterable[str]) -> str:
    """The message for a model name that names no ``models/<name>/``."""
    return f"no model named {name!r}; " + expected_one_of(
        known, empty="no model exists yet (create one with `mlops new model NAME`)")


def no_environment_named(name: str, known: Iterable[str]) -> str:
    """The message for an environment name that names no ``environments/<name>.yaml``."""
    return f"no environment named {name!r}; " + expected_one_of(known, empty="expected environments/<name>.yaml")

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

    def __init__(self, problems: Iterable[Problem] | Problem) -> None:
        items = [problems] if isinstance(problems, Problem) else list(problems)
        if not items:
            raise ValueError("UserError needs at least one problem")
        self.problems: list[Problem] = sorted(set(items))
        super().__init__("\n".join(str(p) for p in self.problems))

    @classmethod
    def at(cls, path: str, message: str, line: int = 1, col: int = 1) -> UserError:
        return cls(Problem(path, line, col, message))


class UsageError(Exception):
    """The command line itself is wrong. The CLI prints the message and exits 2."""

"""How every verb ends: problems one per line (and as GitHub annotations), exit 1; usage errors exit 2."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from mlops.core.errors import Problem, UsageError, UserError


def in_github_actions() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_prop(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(problem: Problem, level: str = "error") -> str:
    """A GitHub Actions workflow command that marks ``problem`` on the file's line in the PR."""
    return (f"::{level} file={_escape_prop(problem.path)},line={problem.line},col={problem.col}::"
            f"{_escape_data(problem.message)}")


def step_summary(markdown: str) -> None:
    """Append ``markdown`` to the job's step summary when running under GitHub Actions."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if in_github_actions() and target:
        with Path(target).open("a", encoding="utf-8") as fh:
            fh.write(markdown.rstrip() + "\n\n")


def report_problems(problems: Sequence[Problem], title: str = "mlops found problems") -> None:
    for problem in problems:
        print(problem, file=sys.stderr)
    if in_github_actions():
        for problem in problems:
            print(annotation(problem))
        pipe = "\\|"
        rows = "\n".join(f"| `{p.path}` | {p.line}:{p.col} | {p.message.replace('|', pipe)} |" for p in problems)
        step_summary(f"### ❌ {title}\n\n| file | line:col | problem |\n|---|---|---|\n{rows}")


def guarded(run: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    try:
        return run(args)
    except UserError as exc:
        for line in exc.context:
            print(line, file=sys.stderr)
        report_problems(exc.problems)
        return 1
    except UsageError as exc:
        print(f"mlops: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mlops: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1


def repo_root(value: str | None, *, required: bool = True) -> Path:
    """The repository root: ``--repo``, else the enclosing directory that has models/ or environments/.

    Outside any repository that is a usage error (one line, exit 2) unless ``required`` is false, for
    the few actions that need no repository (then the current directory).
    """
    if value:
        root = Path(value)
        if not root.is_dir():
            raise UsageError(f"--repo {value}: not a directory")
        return root.resolve()
    here = Path.cwd().resolve()
    for candidate in (here, *here.parents):
        if (candidate / "environments").is_dir() or (candidate / "models").is_dir():
            return candidate
    if required:
        raise UsageError(f"{here} is not inside an mlops repository (no models/ or environments/ here or above); "
                         "expected to run in one, or --repo DIR")
    return here


def add_repo_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repo", metavar="DIR", help="repository root (default: the enclosing repository)")

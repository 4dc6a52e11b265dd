"""Check every model spec, environment and version record, and the rules across them.

A committed .github/CODEOWNERS must be what `mlops codeowners` writes
(a missing one is fine), and .github/mlops.yaml, when there is one, must be valid.

Every problem is printed at once, one per line, as path:line:col: message. Exit status: 0 valid,
1 invalid input, 2 usage error. Under GitHub Actions the problems are also annotations on the PR
and a table in the step summary.
"""

from __future__ import annotations

import argparse
import json
import sys

from mlops.cli._run import (
    add_repo_argument,
    annotation,
    in_github_actions,
    repo_root,
    report_problems,
    step_summary,
)
from mlops.core.errors import Problem

EXAMPLES = """examples:
  mlops validate
  mlops validate --model digits-cnn --format json
  mlops validate --base origin/main      # in a PR: records are append-only"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_repo_argument(parser)
    parser.add_argument("--model", action="append", metavar="NAME", help="validate only this model (repeatable)")
    parser.add_argument("--format", choices=["text", "json"], default="text", help="output format")
    parser.add_argument("--base", metavar="REF", help="also refuse version records changed or deleted since REF, and "
                        "warn of every rule loosened since REF (it needs the governance team's approval)")


def _warn(loosened: list[Problem]) -> None:
    """A loosened rule is not an error: the PR may do it, with the governance team's approval."""
    for problem in loosened:
        print(f"warning: {problem}; needs the governance team's approval", file=sys.stderr)
        if in_github_actions():
            print(annotation(problem, "warning"))
    if loosened:
        rows = "\n".join(f"- `{p}`" for p in loosened)
        step_summary(f"### ⚠️ this change loosens {len(loosened)} rule(s)\n\n{rows}\n\n`mlops/gates` stays pending "
                     "until a member of the governance team (`.github/mlops.yaml`) approves the pull request.")


def run(args: argparse.Namespace) -> int:
    from mlops.validate.validate import validate

    root = repo_root(args.repo)
    result = validate(root, set(args.model) if args.model else None)
    loosened: list[Problem] = []
    if args.base:
        from mlops.gitops.guard import loosened_since
        from mlops.gitops.records import record_changes

        result.problems = sorted(set(result.problems) | set(record_changes(root, args.base)))
        loosened = loosened_since(root, args.base) if not result.problems else []
    summary = {**result.summary(), "loosened": [str(p) for p in loosened]}
    _warn(loosened)
    if args.format == "json":
        print(json.dumps(summary, indent=2))
    if result.problems:
        report_problems(result.problems, "validation failed")
        return 1
    if args.format == "text":
        print(f"ok: {len(result.repo.models)} models, {len(result.repo.environments)} environments "
              f"({' → '.join(summary['environments'])}), {summary['version_records']} version records")  # type: ignore[arg-type]
    step_summary(f"### ✅ mlops validate\n\n{len(result.repo.models)} models, "
                 f"{len(result.repo.environments)} environments: all valid.")
    return 0

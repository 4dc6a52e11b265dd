"""Show the per-environment manifest diff between two git revisions.

Both revisions are rendered in memory (as `mlops render` would) and compared: unified diffs grouped per
environment, then one summary line per environment (files added, removed, changed; image and replica
changes). The head defaults to the working tree. Exit status 0 whether or not anything changed; 1 when a
revision does not validate (the message names the revision); 2 for an unknown revision.
"""

from __future__ import annotations

import argparse
import json

from mlops.cli._run import add_repo_argument, repo_root, step_summary

EXAMPLES = """examples:
  mlops diff --base origin/main                  working tree against main
  mlops diff --base HEAD~1 --head HEAD --env prod
  mlops diff --base main --format json           structured, for reports"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_repo_argument(parser)
    parser.add_argument("--base", required=True, metavar="REF", help="base revision (branch, tag or commit)")
    parser.add_argument("--head", metavar="REF", help="head revision (default: the working tree)")
    parser.add_argument("--env", action="append", metavar="ENV", help="only this environment (repeatable)")
    parser.add_argument("--format", choices=["text", "json"], default="text", help="output format")


def run(args: argparse.Namespace) -> int:
    from mlops.gitops.diff import manifest_diff

    result = manifest_diff(repo_root(args.repo), args.base, args.head, args.env)
    if args.format == "json":
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(result.text(), end="")
    lines = "\n".join(f"- {env.summary()}" for env in result.envs)
    step_summary(f"### Manifest diff {result.base} → {result.head}\n\n{lines}")
    return 0

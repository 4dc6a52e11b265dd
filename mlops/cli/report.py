"""Write the pull request report, set the mlops/gates commit status, or tell a fork PR who starts training.

Default: one markdown comment per pull request — per changed model, the candidate against the
version pinned in each environment (metrics with deltas, gate verdicts), params and data diffs,
the manifest diff summary and training curves (mermaid). A hidden marker finds the comment again,
so it is updated in place, and not rewritten when nothing changed. The same markdown goes to the
step summary; without a pull request it is printed.

GitHub: GITHUB_TOKEN and GITHUB_REPOSITORY (GITHUB_API_URL for GitHub Enterprise Server); the pull
request comes from --pr, else the event (GITHUB_EVENT_PATH). Without a token: the local forge under
.mlops/forge/ of the repository.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mlops.cli._run import add_repo_argument, in_github_actions, repo_root, step_summary

EXAMPLES = """examples:
  mlops report --verdicts verdicts/ --pr 42 --base origin/main
  mlops report --verdicts verdicts/ --out report.md
  mlops report --status --sha "$GITHUB_SHA" --verdicts verdicts/
  mlops report --fork-notice --pr 42"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--verdicts", metavar="DIR", help="directory of verdict JSON files from `mlops evaluate`")
    parser.add_argument("--pr", metavar="N", help="pull request number (default: from the event payload)")
    parser.add_argument("--out", metavar="FILE", help="also write the markdown to FILE")
    parser.add_argument("--base", metavar="REF", help="base revision for the manifest, data and changed-model diffs "
                                                      "(default: the pull request's base)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--status", action="store_true", help="set the mlops/gates commit status from the verdicts")
    mode.add_argument("--fork-notice", action="store_true",
                      help="comment that a maintainer must start training (workflow_dispatch)")
    parser.add_argument("--sha", metavar="SHA", help="commit for --status (default: the event's head commit)")
    parser.add_argument("--failure", metavar="REASON", help="--status: set failure with REASON (an earlier job failed)")
    parser.add_argument("--workflow", metavar="FILE", default="pr.yml", help="workflow named in the fork notice")
    add_repo_argument(parser)


def run(args: argparse.Namespace) -> int:
    from mlops.adapters.forge import forge_from_env
    from mlops.report.report import Mode, ReportRequest, publish

    mode: Mode = "fork-notice" if args.fork_notice else "status" if args.status else "comment"
    root = repo_root(args.repo, required=mode != "fork-notice")  # the fork notice needs no checkout
    request = ReportRequest(root, mode, Path(args.verdicts) if args.verdicts else None, args.pr,
                            Path(args.out) if args.out else None, args.base, args.sha, args.workflow,
                            args.failure or None)
    forge = forge_from_env(root)
    try:
        done = publish(request, forge)
    finally:
        forge.close()
    if done.markdown:
        step_summary(done.markdown)
    if mode == "comment" and not args.out:
        print(done.markdown, end="")
    for line in done.lines:
        print(f"mlops report: {line}", file=sys.stderr if mode == "comment" else sys.stdout)
    title = mode.replace("-", " ")
    for line in done.warnings:
        print(f"::warning title=mlops {title}::{line}" if in_github_actions() else f"mlops report: {line}")
    return 0

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
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from mlops.cli._run import add_repo_argument, in_github_actions, repo_root, step_summary
from mlops.core.errors import UsageError

if TYPE_CHECKING:
    from mlops.adapters.forge import Forge
    from mlops.core.policy import Verdict
    from mlops.core.repo import Repository

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
    parser.add_argument("--workflow", metavar="FILE", default="pr.yml", help="workflow named in the fork notice")
    add_repo_argument(parser)


def _close(forge: object) -> None:
    close = getattr(forge, "close", None)
    if callable(close):
        close()


def run(args: argparse.Namespace) -> int:
    from mlops.adapters.forge import forge_from_env

    root = repo_root(args.repo, required=not args.fork_notice)  # the fork notice needs no checkout
    forge = forge_from_env(root)
    try:
        if args.fork_notice:
            return _fork_notice(root, forge, args)
        if args.status:
            return _status(root, forge, args)
        return _comment(root, forge, args)
    finally:
        _close(forge)


def _verdicts(args: argparse.Namespace) -> dict[tuple[str, str], Verdict]:
    from mlops.report.collect import read_verdicts

    return read_verdicts(Path(args.verdicts)) if args.verdicts else {}


def _repo(root: Path) -> Repository:
    from mlops.core.repo import load_repository

    repo = load_repository(root)
    repo.require_valid()
    return repo


def _comment(root: Path, forge: Forge, args: argparse.Namespace) -> int:
    from mlops.adapters.forge import read_event
    from mlops.core.atomic import write_text
    from mlops.report.collect import collect, resolve_base
    from mlops.report.markdown import MARKER, render
    from mlops.report.report import find_target, head_sha, parse_pr, post_comment

    pr = parse_pr(args.pr)
    repo = _repo(root)
    event = read_event()
    base = resolve_base(root, args.base, os.environ, event.base_sha if event else None)
    markdown = render(collect(repo, _verdicts(args), base, head_sha(root)))
    out = Path(args.out) if args.out else None
    if out is not None and not (out.is_file() and out.read_text("utf-8") == markdown):
        write_text(out, markdown)
    step_summary(markdown)
    target = find_target(root, forge, pr)
    if not args.out:
        print(markdown, end="")
    if target.pr is None:
        print(f"mlops report: not posted ({target.why})", file=sys.stderr)
        return 0
    print(f"mlops report: {post_comment(forge, target.pr, MARKER, markdown)}", file=sys.stderr)
    return 0


def _status(root: Path, forge: Forge, args: argparse.Namespace) -> int:
    from mlops.adapters.forge import read_event
    from mlops.report.report import STATUS_CONTEXT, gate_status, run_url

    if not args.verdicts:
        raise UsageError("--status needs --verdicts DIR (the verdicts of `mlops evaluate`)")
    event = read_event()
    sha = args.sha or (event.head_sha if event else None)
    if not sha:
        raise UsageError("--status needs --sha SHA (or a pull request event)")
    state, description = gate_status(_repo(root), _verdicts(args))
    forge.set_status(sha, state, STATUS_CONTEXT, description, run_url())
    print(f"mlops report: {STATUS_CONTEXT} = {state} on {sha[:12]}: {description}")
    return 0


def _fork_notice(root: Path, forge: Forge, args: argparse.Namespace) -> int:
    from mlops.adapters.forge import ForgeError
    from mlops.report.report import FORK_MARKER, find_target, fork_notice, parse_pr, permission_denied, post_comment

    target = find_target(root, forge, parse_pr(args.pr))
    if target.pr is None:
        raise UsageError(f"--fork-notice needs --pr N ({target.why})")
    body = fork_notice(target.pr, args.workflow)
    step_summary(body)
    try:
        print(f"mlops report: {post_comment(forge, target.pr, FORK_MARKER, body)}")
    except ForgeError as exc:
        if not permission_denied(exc):
            raise
        # a fork's pull_request run has a read-only token: say it in the run instead of failing it
        message = (f"pull request #{target.pr} comes from a fork: a maintainer must start training with "
                   f"workflow_dispatch of {args.workflow} (the comment could not be posted: {exc.problems[0].message})")
        print(f"::warning title=mlops fork notice::{message}" if in_github_actions()
              else f"mlops report: {message}")
    return 0

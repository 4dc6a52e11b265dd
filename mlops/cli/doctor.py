"""Check the GitHub settings the framework's trust model relies on, through the REST API (read-only).

Six checks, each ok / missing / unknown (with the reason, and the fix or how to check): the fork pull
request approval policy, the default branch's ruleset (the mlops/gates status and reviews by code
owners), CODEOWNERS coverage of environments/, models/*/versions/, .github/ and mlops/, the bot
environment's deployment branch policy, the self-hosted runner groups' allowed workflows, and the
GitHub App installation's permissions. Nothing is changed on GitHub.

The token comes from GITHUB_TOKEN or GH_TOKEN (GITHUB_API_URL for GitHub Enterprise Server). Some
settings need more than read access: fork approval needs a repository admin, runner groups an org
admin, the App's permissions the App's own key (MLOPS_APP_PRIVATE_KEY) or an org admin; without those,
the check reports unknown and what it needs. Exit status 1 when something required is missing (with
--strict, also when something could not be checked), 0 otherwise, 2 for a usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from pathlib import Path

from mlops.cli._run import in_github_actions, step_summary
from mlops.core.errors import UsageError

EXAMPLES = """examples:
  GH_TOKEN=$(gh auth token) mlops doctor --repository octo-org/models
  mlops doctor --environment mlops-bot --status mlops/gates --json
  mlops doctor --workflows train.yml evaluate.yml      the workflows allowed on the GPU runners
  MLOPS_APP_PRIVATE_KEY="$(cat app.pem)" mlops doctor --app-id Iv23liAbCdEf   read the App's own installation"""

_REPOSITORY = re.compile(r"^[A-Za-z0-9-]+/[A-Za-z0-9._-]+$")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repository", metavar="OWNER/NAME", help="the repository (default: $GITHUB_REPOSITORY)")
    parser.add_argument("--environment", metavar="NAME", default="mlops-bot",
                        help="the environment that holds the App's private key (default: mlops-bot)")
    parser.add_argument("--status", metavar="CONTEXT", default="mlops/gates",
                        help="the commit status the ruleset must require (default: mlops/gates)")
    parser.add_argument("--workflows", metavar="FILE", nargs="+",
                        help="workflow files that may use the self-hosted GPU runners (default: every workflow "
                             "on the default branch with a self-hosted job, and its callers)")
    parser.add_argument("--app-id", metavar="ID", help="the GitHub App's client id or numeric id "
                                                       "(default: $MLOPS_APP_CLIENT_ID)")
    parser.add_argument("--app-key-file", metavar="PEM", help="the App's private key (default: the PEM text in "
                                                              "$MLOPS_APP_PRIVATE_KEY)")
    parser.add_argument("--json", action="store_true", help="print the findings as JSON")
    parser.add_argument("--strict", action="store_true", help="also exit 1 when a setting could not be checked")


def run(args: argparse.Namespace) -> int:
    from mlops.adapters.forge import settings_from_env
    from mlops.doctor import DoctorOptions, run_doctor

    env = os.environ
    token = env.get("GITHUB_TOKEN") or env.get("GH_TOKEN")
    if not token:
        raise UsageError("no GitHub token: set GITHUB_TOKEN or GH_TOKEN (for example GH_TOKEN=$(gh auth token)) "
                         "to a token that can read the repository's settings")
    repository = args.repository or env.get("GITHUB_REPOSITORY") or ""
    if not repository:
        raise UsageError("no repository: give --repository OWNER/NAME or set GITHUB_REPOSITORY")
    if not _REPOSITORY.match(repository):
        raise UsageError(f"--repository {repository!r} is not OWNER/NAME")
    app_id = args.app_id or env.get("MLOPS_APP_CLIENT_ID") or None
    key = _app_key(args.app_key_file, env.get("MLOPS_APP_PRIVATE_KEY"))
    if key and not app_id:
        raise UsageError("the App's private key needs the App's id: --app-id or MLOPS_APP_CLIENT_ID")
    options = DoctorOptions(args.environment, args.status, tuple(args.workflows) if args.workflows else None, app_id)
    source = settings_from_env(repository, token, app_id=app_id, app_private_key=key)
    try:
        report = run_doctor(source, options)
    finally:
        source.close()
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.text(), end="\n" if args.json else "")
    step_summary(report.markdown())
    if in_github_actions() and not args.json:  # annotations would break the JSON on stdout
        for f in report.findings:
            if f.status != "ok":
                level = "error" if f.status == "missing" else "warning"
                print(f"::{level} title=mlops doctor: {f.title}::{f.detail} — {f.fix}".replace("\n", " "))
    return report.exit_code(strict=args.strict)


def _app_key(path: str | None, from_env: str | None) -> str | None:
    if not path:
        return from_env or None
    try:
        return Path(path).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--app-key-file {path}: cannot read it ({type(exc).__name__})") from exc

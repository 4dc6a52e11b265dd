"""Evaluate a candidate version against the version pinned in an environment, through the gates.

The candidate (--candidate, default: the model's newest version record) is loaded through its
record (digest verified) and scored on the held-out test split of the current data; the version
pinned in the environment is scored on the same data. The model's gates and the environment's
policy gates decide. The verdict is printed, written as JSON (--json-out) and sets the exit
status: 0 pass, 1 fail (or invalid input), 2 usage error.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from mlops.cli._run import add_repo_argument, repo_root, step_summary

EXAMPLES = """examples:
  mlops evaluate digits-cnn --against staging
  mlops evaluate digits-cnn --against prod --candidate 20250102-1a2b3c4d --json-out verdicts/digits-cnn--prod.json"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", help="model name (models/MODEL/)")
    parser.add_argument("--against", metavar="ENV", required=True, help="environment whose pin is the baseline")
    parser.add_argument("--candidate", metavar="VERSION", help="version to evaluate (default: the newest record)")
    parser.add_argument("--json-out", metavar="FILE", help="write the verdict as JSON (atomically)")
    add_repo_argument(parser)


def run(args: argparse.Namespace) -> int:
    from mlops.core.atomic import write_text
    from mlops.evaluate.evaluate import Request, evaluate
    from mlops.evaluate.scoring import ArtifactScorer
    from mlops.report.markdown import verdict_markdown
    from mlops.validate.validate import load_valid

    repo = load_valid(repo_root(args.repo))
    verdict = evaluate(repo, Request(args.model, args.against, args.candidate), ArtifactScorer(repo, args.model))
    print(verdict.text())
    if args.json_out:
        write_text(Path(args.json_out), json.dumps(verdict.to_dict(), indent=2, sort_keys=True) + "\n")
    step_summary(verdict_markdown(verdict))
    return 0 if verdict.passed else 1

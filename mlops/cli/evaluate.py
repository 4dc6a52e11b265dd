"""Evaluate a candidate version against the version pinned in an environment, through the gates.

The candidate (--candidate, default: the model's newest version record) is loaded through its
record (digest verified) and scored on the held-out test split of the current data; the version
pinned in the environment is scored on the same data. The model's gates and the environment's
policy gates decide. The verdict is printed, written as JSON (--json-out) and sets the exit
status: 0 pass, 1 fail (or invalid input), 2 usage error.

Several --against evaluate one candidate against several environments in one process: each version is
loaded and scored once, and --json-dir gets one verdict per environment (MODEL--ENV.json); the exit
status is 1 when any verdict fails.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from mlops.cli._run import add_repo_argument, repo_root, step_summary
from mlops.core.errors import UsageError

EXAMPLES = """examples:
  mlops evaluate digits-cnn --against staging
  mlops evaluate digits-cnn --against prod --candidate 20250102-1a2b3c4d --json-out verdicts/digits-cnn--prod.json
  mlops evaluate digits-cnn --against dev --against staging --against prod --json-dir verdicts"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", help="model name (models/MODEL/)")
    parser.add_argument("--against", metavar="ENV", required=True, action="append",
                        help="environment whose pin is the baseline (repeat for several)")
    parser.add_argument("--candidate", metavar="VERSION", help="version to evaluate (default: the newest record)")
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--json-out", metavar="FILE", help="write the verdict as JSON (atomically; one --against)")
    out.add_argument("--json-dir", metavar="DIR", help="write each verdict to DIR/MODEL--ENV.json (atomically)")
    add_repo_argument(parser)


def run(args: argparse.Namespace) -> int:
    from mlops.core.atomic import write_text
    from mlops.evaluate.evaluate import Request, evaluate
    from mlops.evaluate.scoring import ArtifactScorer
    from mlops.report.markdown import verdict_markdown
    from mlops.validate.validate import load_valid

    if args.json_out and len(args.against) > 1:
        raise UsageError("--json-out takes one verdict; with several --against give --json-dir DIR")
    repo = load_valid(repo_root(args.repo))
    scorer = ArtifactScorer(repo, args.model)  # scores each version once, whatever the environments
    passed = True
    for env in dict.fromkeys(args.against):
        verdict = evaluate(repo, Request(args.model, env, args.candidate), scorer)
        print(verdict.text())
        target = Path(args.json_out) if args.json_out else \
            Path(args.json_dir) / f"{args.model}--{env}.json" if args.json_dir else None
        if target is not None:
            write_text(target, json.dumps(verdict.to_dict(), indent=2, sort_keys=True) + "\n")
        step_summary(verdict_markdown(verdict))
        passed &= verdict.passed
    return 0 if passed else 1

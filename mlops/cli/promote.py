"""Promote a model into an environment: one pull request pinning the version that runs in the environment before it.

The pull request (branch mlops/promote/<model>-<env>; updated, never duplicated) carries the evidence: the version
record, the verdict against the target's gates with 95 % intervals (evaluated now on the test split), and the deploy
and smoke result of the source environment (--deploy-result, the JSON of `mlops deploy --json`). It merges by
itself only when the target's policy has auto_merge, every gate passed with confidence (the pessimistic bound clears
each rule by policy.confidence_margin), and the target is not production — which always waits for its approvers.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from mlops.cli._run import add_repo_argument, repo_root, step_summary
from mlops.core.errors import UserError

EXAMPLES = """examples:
  mlops promote digits-cnn --to staging --deploy-result deploy-dev.json
  mlops promote digits-cnn --to prod --no-evaluate"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", help="the model to promote")
    parser.add_argument("--to", required=True, metavar="ENV", help="the environment to promote into")
    parser.add_argument("--deploy-result", type=Path, metavar="FILE",
                        help="the source environment's `mlops deploy --json` output (evidence; a failed deploy "
                             "is never promoted by itself)")
    parser.add_argument("--base", default="main", metavar="BRANCH", help="the branch the PR targets")
    parser.add_argument("--no-evaluate", action="store_true",
                        help="open the PR without evaluating (it then waits for review)")
    add_repo_argument(parser)


def run(args: argparse.Namespace) -> int:
    from mlops.adapters.forge import forge_from_env
    from mlops.adapters.scm import open_scm
    from mlops.deploy.promote import open_promotion_pr, plan_promotion
    from mlops.validate.validate import load_valid

    repo = load_valid(repo_root(args.repo))
    promotion = plan_promotion(repo, args.model, args.to)
    deploy = None
    if args.deploy_result is not None:
        try:
            deploy = json.loads(args.deploy_result.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise UserError.at(str(args.deploy_result), f"cannot read the deploy result: {exc}; expected the "
                                                        "JSON of `mlops deploy --json`") from None
    verdict = None
    if not args.no_evaluate:
        from mlops.evaluate.evaluate import Request, evaluate
        from mlops.evaluate.scoring import ArtifactScorer

        verdict = evaluate(repo, Request(args.model, args.to, promotion.version), ArtifactScorer(repo, args.model))
    forge = forge_from_env(repo.root)
    try:
        promoted = open_promotion_pr(repo, open_scm(repo.root), forge, promotion, verdict, deploy, base=args.base)
    finally:
        forge.close()
    print(promoted.line())
    step_summary(f"### mlops promote\n\n{promoted.line()}")
    return 0

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
from typing import TYPE_CHECKING, Any

from mlops.cli._run import add_repo_argument, repo_root, step_summary
from mlops.core.errors import UsageError, UserError

if TYPE_CHECKING:
    from mlops.core.repo import Repository

EXAMPLES = """examples:
  mlops promote digits-cnn --to staging --deploy-result deploy-dev.json
  mlops promote digits-cnn --to prod --no-evaluate
  mlops promote --from-deploy deploy-dev.json    every model the deploy changed, into the next environment"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", nargs="?", help="the model to promote")
    parser.add_argument("--to", metavar="ENV", help="the environment to promote into")
    parser.add_argument("--from-deploy", type=Path, metavar="FILE",
                        help="promote every model this `mlops deploy --json` changed into the next environment(s)")
    parser.add_argument("--deploy-result", type=Path, metavar="FILE",
                        help="the source environment's `mlops deploy --json` output (evidence; a failed deploy "
                             "is never promoted by itself)")
    parser.add_argument("--base", default="main", metavar="BRANCH", help="the branch the PR targets")
    parser.add_argument("--no-evaluate", action="store_true",
                        help="open the PR without evaluating (it then waits for review)")
    add_repo_argument(parser)


def run(args: argparse.Namespace) -> int:
    from mlops.validate.validate import load_valid

    repo = load_valid(repo_root(args.repo))
    if args.from_deploy is not None:
        return _from_deploy(args, repo)
    if not args.model or not args.to:
        raise UsageError("give MODEL --to ENV (or --from-deploy FILE)")
    deploy = _read(args.deploy_result) if args.deploy_result is not None else None
    print(_promote(args, repo, args.model, args.to, deploy))
    return 0


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError.at(str(path), f"cannot read the deploy result: {exc}; expected the JSON of "
                                      "`mlops deploy --json`") from None
    if not isinstance(data, dict):
        raise UserError.at(str(path), "the deploy result is not a JSON object; expected `mlops deploy --json`")
    return data


def _from_deploy(args: argparse.Namespace, repo: Repository) -> int:
    deploy = _read(args.from_deploy)
    env = str(deploy.get("environment", ""))
    repo.require_environment(env)
    successors = [e for e, loaded in sorted(repo.environments.items()) if loaded.spec.promoted_from == env]
    models = [m["model"] for m in (deploy.get("result") or {}).get("models") or [] if m.get("changed")]
    if not deploy.get("ok"):
        print(f"{env}'s deploy failed: nothing is promoted")
        return 0
    for target in successors:
        for model in models:
            pin = repo.environment(target).pin(model)
            if pin is not None and pin.version == repo.environment(env).pin(model).version:  # type: ignore[union-attr]
                continue
            print(_promote(args, repo, model, target, deploy))
    if not successors or not models:
        print(f"nothing to promote from {env}")
    return 0


def _promote(args: argparse.Namespace, repo: Repository, model: str, to: str, deploy: dict[str, Any] | None) -> str:
    from mlops.adapters.forge import forge_from_env
    from mlops.adapters.scm import open_scm
    from mlops.deploy.promote import open_promotion_pr, plan_promotion

    promotion = plan_promotion(repo, model, to)
    verdict = None
    if not args.no_evaluate:
        from mlops.evaluate.evaluate import Request, evaluate
        from mlops.evaluate.scoring import ArtifactScorer

        verdict = evaluate(repo, Request(model, to, promotion.version), ArtifactScorer(repo, model))
    forge = forge_from_env(repo.root)
    try:
        promoted = open_promotion_pr(repo, open_scm(repo.root), forge, promotion, verdict, deploy, base=args.base)
    finally:
        forge.close()
    step_summary(f"### mlops promote\n\n{promoted.line()}")
    return promoted.line()

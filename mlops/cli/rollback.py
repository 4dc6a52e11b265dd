"""Roll a model back in an environment: at once where mlops deploys (push, local), and in git everywhere.

The version pinned before the current one (or --to VERSION) is deployed now in push and local modes; then a
pull request reverts the pin change (branch mlops/rollback/<env>-<model>, labelled mlops-rollback, with --cause in
its body). It merges by itself only when the environment's policy sets auto_merge_rollback; otherwise its
approvers review it. Running it again updates the one open rollback PR.
"""

from __future__ import annotations

import argparse

from mlops.cli._run import add_repo_argument, repo_root, step_summary

EXAMPLES = """examples:
  mlops rollback --env dev --model digits-cnn --cause "p99 latency doubled"
  mlops rollback --env prod --model digits-cnn --to 20250101-1a2b3c4d"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env", required=True, metavar="ENV", help="the environment")
    parser.add_argument("--model", required=True, metavar="NAME", help="the model to roll back")
    parser.add_argument("--to", metavar="VERSION", help="the version to return to (default: the previous pin)")
    parser.add_argument("--cause", default="requested by hand", help="why (goes into the pull request)")
    parser.add_argument("--context", metavar="CTX", help="push mode: the kubeconfig context")
    add_repo_argument(parser)


def run(args: argparse.Namespace) -> int:
    from mlops.adapters.forge import forge_from_env
    from mlops.adapters.serving import open_serving
    from mlops.deploy.run import roll_back
    from mlops.validate.validate import load_valid

    repo = load_valid(repo_root(args.repo))
    spec = repo.require_environment(args.env).spec
    mode = spec.delivery.mode
    target = None if mode == "pull" else open_serving(mode, root=repo.root, context=args.context)
    forge = forge_from_env(repo.root)
    try:
        notes = roll_back(repo, args.env, args.model, target, forge, cause=args.cause, to=args.to,
                          automatic=False, say=lambda line: None)
    finally:
        forge.close()
        if target is not None:
            target.close()
    print("\n".join(notes))
    step_summary(f"### mlops rollback {args.model} in {args.env}\n\n" + "\n".join(f"- {n}" for n in notes))
    return 0

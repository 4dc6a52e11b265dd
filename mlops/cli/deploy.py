"""Deploy an environment's pins: local processes, the Kubernetes API (push), or the manifests branch (pull).

local: each pinned model behind its port from the environment file (`local.ports`), served by `mlops serve`;
a new version starts beside the old, takes the traffic once ready, and the old one drains: no request fails.
push: server-side apply of what `mlops render` produces (field manager mlops), prune of what the environment no
longer renders (by its labels), wait for the rollout, then a smoke test through the API server's service proxy.
pull: the rendered manifests are committed to `delivery.gitops.revision` under `<path>/<env>/` by the bot; Argo
CD or Flux applies them (the cluster is never changed with CI credentials).

Every mode ends with a smoke test where it can (ready, then one inference with a sample shaped like the version's
input). A failed deploy or smoke test rolls back at once (push, local) and opens a revert pull request of the pin
change — unless the failed pin was itself a rollback (never rolled back automatically) or --no-rollback.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from mlops.cli._run import add_repo_argument, repo_root, step_summary
from mlops.core.errors import UsageError

if TYPE_CHECKING:
    from mlops.core.repo import Repository

EXAMPLES = """examples:
  mlops deploy --env dev                      every pinned model of dev, in dev's delivery mode
  mlops deploy --env staging --model digits-cnn --json
  mlops deploy --env prod                     pull mode: commit the manifests Argo CD syncs
  mlops deploy --changed-since "$BEFORE" --list   the environments a push changed (deploy.yml's matrix)"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env", metavar="ENV", help="the environment to deploy")
    parser.add_argument("--changed-since", metavar="REV", help="with --list: only environments whose pins (or "
                                                               "pinned models) changed since REV")
    parser.add_argument("--list", action="store_true", help="print the environments to deploy (push and pull "
                                                            "modes, in promotion order) as JSON; deploy nothing")
    parser.add_argument("--model", metavar="NAME", help="only this model")
    parser.add_argument("--context", metavar="CTX", help="push mode: the kubeconfig context (default: the env's)")
    parser.add_argument("--no-rollback", action="store_true", help="on failure, do not roll back or open a revert PR")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    add_repo_argument(parser)


def run(args: argparse.Namespace) -> int:
    from mlops.deploy.run import deploy_environment
    from mlops.validate.validate import load_valid

    repo = load_valid(repo_root(args.repo))
    if args.list:
        return _list(repo, args.changed_since)
    if not args.env:
        raise UsageError("give --env ENV (or --list)")

    def say(line: str) -> None:
        print(f"mlops deploy: {line}", file=sys.stderr, flush=True)

    outcome = deploy_environment(repo, args.env, model=args.model, context=args.context,
                                 rollback=not args.no_rollback, say=say)
    if args.json:
        print(json.dumps(outcome.to_dict(), indent=2, sort_keys=True))
    else:
        print("\n".join(outcome.lines()))
    step_summary("### mlops deploy " + args.env + "\n\n" + "\n".join(f"- {line}" for line in outcome.lines()))
    return 0 if outcome.ok else 1


def _list(repo: Repository, since: str | None) -> int:
    import os
    from pathlib import Path

    from mlops.adapters.scm import open_scm
    from mlops.deploy.history import changed_environments

    order = repo.promotion_order() or sorted(repo.environments)
    remote = {e: set(repo.environment(e).pins) for e in order if repo.environment(e).delivery.mode != "local"}
    names = changed_environments(open_scm(repo.root), remote, since) if since else list(remote)
    print(json.dumps(names))
    if os.environ.get("GITHUB_ACTIONS") == "true" and os.environ.get("GITHUB_OUTPUT"):
        with Path(os.environ["GITHUB_OUTPUT"]).open("a", encoding="utf-8") as fh:
            fh.write(f"environments={json.dumps(names)}\n")
    return 0

"""Why is this version running here? From git alone, and from the forge when a token is present.

`mlops explain ENV MODEL` prints the version pinned in ENV and its record (artifact digest, data version, code
commit, params, metrics), the commit and the pull request that pinned it with who approved it, the gates it
passes in ENV (the rules as they are now, against the version it replaced), the promotion path (where it was
pinned, when, by which pull request), where it runs now, and ENV's recent pin history with rollbacks marked.
`mlops explain MODEL@VERSION` does the same for a version, pinned or not. Without GITHUB_TOKEN and
GITHUB_REPOSITORY the pull requests come from the local forge (.mlops/forge), when there is one.
"""

from __future__ import annotations

import argparse
import json

from mlops.cli._run import add_repo_argument, repo_root, step_summary

EXAMPLES = """examples:
  mlops explain prod digits-cnn                  why this version runs in prod
  mlops explain digits-cnn@20250101-1a2b3c4d     a version, pinned or not
  mlops explain staging cancer-mlp --json        the same for tools
  mlops explain cancer-mlp@20250101-1a2b3c4d --card > card.md    its model card, with today's gates"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", nargs="+", metavar="ENV MODEL | MODEL@VERSION",
                        help="an environment and a model, or MODEL@VERSION")
    parser.add_argument("--json", action="store_true", help="print the explanation as JSON")
    parser.add_argument("--no-forge", action="store_true", help="git alone: do not ask the forge for pull requests")
    parser.add_argument("--card", action="store_true", help="print the version's model card (markdown) with "
                        "today's gates in every environment and how it got where it runs")
    add_repo_argument(parser)


def run(args: argparse.Namespace) -> int:
    from mlops.adapters.forge import forge_from_env
    from mlops.adapters.scm import try_open_scm
    from mlops.core.errors import UsageError, UserError
    from mlops.core.repo import load_repository, parse_ref
    from mlops.explain.explain import explain
    from mlops.explain.page import page

    if len(args.target) == 1 and "@" in args.target[0]:
        env, (model, version) = None, parse_ref(args.target[0])
    elif len(args.target) == 2 and "@" not in "".join(args.target):
        (env, model), version = args.target, None
    else:
        raise UsageError(f"expected ENV MODEL or MODEL@VERSION, got {' '.join(args.target)!r}")
    repo = load_repository(repo_root(args.repo), only_models={model}, records=False)
    if model in repo.model_dirs and repo.problems:
        raise UserError(repo.problems)
    forge = None if args.no_forge else forge_from_env(repo.root)
    try:
        found = explain(repo, try_open_scm(repo.root), forge, model, environment=env, version=version)
    finally:
        if forge is not None:
            forge.close()
    if args.card:
        from mlops.explain.cards import card
        from mlops.explain.explain import approvals

        print(card(repo, found.record, now=True, approvals=approvals(found)), end="")
        return 0
    text = page(found)
    print(json.dumps(found.to_dict(), indent=2) if args.json else text, end="\n" if args.json else "")
    step_summary(f"### mlops explain\n\n```\n{text}```\n")
    return 0

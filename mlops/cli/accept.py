"""Accept the output of a training job: verify it, store the artifacts, commit the records as the bot.

DIR holds what the training job uploaded (models/<model>/versions/<version>.yaml and the files of
models/<model>/versions/<version>/), treated as untrusted data: it is copied into a temporary directory, and
anything else in it is refused. Each record must validate, match its artifact byte for byte, be new, and
state exactly the inputs of the head commit (model.py, params, training settings, data version, spec).

--store runs `dvc add` + `dvc push` of the artifacts with the checkout's DVC config (give the job only the
storage credentials for this step). --commit commits the records, DVC pointers and .gitignore on --branch
through the forge (give it only the bot's token): on GitHub the App creates the commit through the API, so
GitHub signs it, and `mlops plan` counts the model as trained only for records committed that way.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from mlops.cli._run import add_repo_argument, repo_root, step_summary
from mlops.core.errors import UsageError

EXAMPLES = """examples:
  mlops accept "$RUNNER_TEMP/trained" --head "$HEAD_SHA" --store
  mlops accept "$RUNNER_TEMP/trained" --head "$HEAD_SHA" --commit --branch "$HEAD_REF"
  mlops accept trained/ --head HEAD --store --commit --branch propose/wider   (local: both at once)"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", metavar="DIR", type=Path, help="the training job's output (an unpacked artifact)")
    parser.add_argument("--head", required=True, metavar="SHA", help="the commit the records were trained from; "
                                                                     "the checkout must be at it")
    parser.add_argument("--store", action="store_true", help="dvc add + dvc push the artifacts")
    parser.add_argument("--no-push", action="store_true", help="with --store: the DVC cache only")
    parser.add_argument("--commit", action="store_true", help="commit the records on --branch through the forge")
    parser.add_argument("--place", action="store_true",
                        help="put the verified records and artifacts into the checkout (to evaluate; no commit)")
    parser.add_argument("--branch", metavar="NAME", help="the pull request's branch (for --commit)")
    add_repo_argument(parser)


def run(args: argparse.Namespace) -> int:
    from mlops.adapters.forge import forge_from_env
    from mlops.adapters.scm import open_scm
    from mlops.train.accept import check_against_head, commit, place, store, unpack
    from mlops.validate.validate import load_valid

    if args.commit and not args.branch:
        raise UsageError("--commit needs --branch NAME (the pull request's branch)")
    if not args.dir.is_dir():
        raise UsageError(f"{args.dir}: not a directory; expected the training job's output")
    root = repo_root(args.repo)
    scm = open_scm(root)
    head = scm.require(args.head)
    if scm.head() != head:
        raise UsageError(f"the checkout is at {str(scm.head())[:12]}, not {head[:12]}; check out the head first")
    repo = load_valid(root)
    with tempfile.TemporaryDirectory(prefix="mlops-accept-") as tmp:
        bundles = unpack(args.dir, Path(tmp))
        check_against_head(repo, bundles)
        names = ", ".join(f"{b.model}@{b.version}" for b in bundles)
        print(f"verified {names}: new records, artifacts match, trained from {head[:12]}")
        if args.store:
            for uri in store(repo, bundles, push=not args.no_push):
                print(f"stored {uri}")
        if args.place:
            for path in place(repo, bundles):
                print(f"placed {path}")
        if args.commit:
            forge = forge_from_env(root)
            try:
                sha = commit(repo, scm, forge, bundles, branch=args.branch, head=head)
            finally:
                forge.close()
            print(f"committed {names} on {args.branch} as {forge.identity}: {sha}")
            step_summary(f"### mlops accept\n\nCommitted {names} on `{args.branch}` ({sha[:12]}).")
    return 0

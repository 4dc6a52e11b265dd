"""The ``mlops`` command line: one small module per verb, imported only when that verb runs.

``mlops --help`` imports no verb module at all, so it starts in well under 0.25 s.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from mlops import __version__

# verb → (module, one-line summary). Modules define ``add_arguments(parser)`` and ``run(args) -> int``.
VERBS: dict[str, tuple[str, str]] = {
    "validate": ("mlops.cli.validate", "check every spec, environment and version record"),
    "render": ("mlops.cli.render", "render Kubernetes manifests for an environment"),
    "diff": ("mlops.cli.diff", "per-environment manifest diff between two git revisions"),
    "explain": ("mlops.cli.explain", "why a version runs where it runs: its record, pull request, approvals, path"),
    "plan": ("mlops.cli.plan", "what a pull request needs: models to train, verdicts on changed pins and rules"),
    "new": ("mlops.cli.new", "scaffold a new model that validates as is"),
    "train": ("mlops.cli.train", "train a model and write its immutable version record"),
    "accept": ("mlops.cli.accept", "verify a training job's output, store the artifacts, commit the records"),
    "evaluate": ("mlops.cli.evaluate", "evaluate a candidate against the version pinned in an environment"),
    "report": ("mlops.cli.report", "write (or update in place) the pull request report"),
    "reproduce": ("mlops.cli.reproduce", "re-train a version from its record and compare digests"),
    "serve": ("mlops.cli.serve", "serve a version over the Open Inference Protocol (v2 REST)"),
    "deploy": ("mlops.cli.deploy", "deploy an environment's pins (local, push or pull) and smoke-test them"),
    "promote": ("mlops.cli.promote", "open (or update) the promotion pull request into the next environment"),
    "rollback": ("mlops.cli.rollback", "return a model to its previous version and open the revert pull request"),
    "build-image": ("mlops.cli.build_image", "build and push the serving image of a version"),
    "labels": ("mlops.cli.labels", "ingest delayed ground-truth labels for monitoring"),
    "monitor": ("mlops.cli.monitor", "judge drift, live performance and data quality; retrain or roll back"),
    "doctor": ("mlops.cli.doctor", "check the GitHub settings the trust model relies on (read-only)"),
    "codeowners": ("mlops.cli.codeowners", "write .github/CODEOWNERS from owners, approvers and governance"),
}

EPILOG = """examples:
  mlops validate                      check the whole repository
  mlops render --env dev --out build  render dev's manifests into build/dev
  mlops new model my-model            scaffold models/my-model/
run `mlops VERB --help` for a verb's options and an example."""


def build_parser(verb: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlops", description="GitOps for deep-learning MLOps: the repository is the system.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"mlops {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    for name, (module, summary) in VERBS.items():  # a verb module that cannot be imported fails loudly here
        if name != verb:
            sub.add_parser(name, help=summary, add_help=False)
            continue
        mod = importlib.import_module(module)
        verb_parser = sub.add_parser(
            name, help=summary, description=(mod.__doc__ or summary).strip(),
            formatter_class=argparse.RawDescriptionHelpFormatter, epilog=getattr(mod, "EXAMPLES", None),
        )
        mod.add_arguments(verb_parser)
        verb_parser.set_defaults(_run=mod.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    verb = next((a for a in args_in if not a.startswith("-")), None)
    parser = build_parser(verb if verb in VERBS else None)
    try:
        args = parser.parse_args(args_in)
    except SystemExit as exc:  # argparse: --help exits 0, usage errors exit 2
        return int(exc.code or 0)
    if getattr(args, "_run", None) is None:
        parser.print_help()
        return 2 if verb is None and args_in else 0
    from mlops.cli._run import guarded

    return guarded(args._run, args)

"""Plan a pull request: which models changed, which need training, and verdicts for changed pins and rules.

A changed model needs training unless one of its records states exactly the head's inputs (model.py, params,
training settings, data version, spec) and the forge attests that the framework's identity committed it.
Pull requests that change pins, environment policy or gates get verdicts here, without training: the pinned
versions' records against the rules, and the promotion order. Run in a checkout of the head.

Under GitHub Actions the lists become step outputs (``changed``, ``train``, ``verdicts``) and a step summary.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from mlops.cli._run import add_repo_argument, in_github_actions, repo_root, step_summary
from mlops.core.errors import UsageError

EXAMPLES = """examples:
  mlops plan --base origin/main
  mlops plan --base "$BASE_SHA" --verdicts-out verdicts/ --json"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--base", metavar="REF", help="base revision (default: the pull request's base commit)")
    parser.add_argument("--pr", metavar="N", type=int, help="pull request number (default: from the event)")
    parser.add_argument("--verdicts-out", metavar="DIR", help="write the verdicts on changed pins and rules here")
    parser.add_argument("--json", action="store_true", help="print the plan as JSON")
    add_repo_argument(parser)


def run(args: argparse.Namespace) -> int:
    import tempfile

    from mlops.adapters.forge import forge_from_env, read_event
    from mlops.adapters.scm import open_scm
    from mlops.core.atomic import write_text
    from mlops.evaluate.pins import pin_verdicts
    from mlops.gitops.plan import find_pull, plan, repository_at
    from mlops.validate.validate import load_valid

    root = repo_root(args.repo)
    scm = open_scm(root)
    forge = forge_from_env(root)
    try:
        event = read_event()
        target, base = None, args.base
        if base is None:
            if args.pr is None and event is None:
                raise UsageError("give --base REF, or --pr N (or run in a pull request's workflow)")
            target = find_pull(forge, event, args.pr, scm.require("HEAD"))
            base = target.base_sha
        repo = load_valid(root)
        result = plan(repo, scm, forge, base)
    finally:
        forge.close()
    verdicts = []
    if result.rules_changed:
        with tempfile.TemporaryDirectory(prefix="mlops-base-") as tmp:
            verdicts = pin_verdicts(repo, repository_at(scm, result.base, Path(tmp)), result.environments,
                                    result.gates)
    if args.verdicts_out:
        out = Path(args.verdicts_out)
        for verdict in verdicts:
            write_text(out / f"{verdict.model}--{verdict.environment}--pin.json",
                       json.dumps(verdict.to_dict(), indent=2, sort_keys=True) + "\n")
    data = {**result.to_dict(), "verdicts": [v.to_dict() for v in verdicts]}
    if args.json:
        print(json.dumps(data, indent=2, sort_keys=True))
    else:
        for m in result.models:
            print(f"{m.model}: {'train' if m.train else 'trained'} — {m.reason}")
        for v in verdicts:
            print(v.text())
        if not result.models and not verdicts:
            print("nothing to train or judge: no model, pin or rule changed")
    if in_github_actions() and os.environ.get("GITHUB_OUTPUT"):
        with Path(os.environ["GITHUB_OUTPUT"]).open("a", encoding="utf-8") as fh:
            fh.write(f"changed={json.dumps(result.changed)}\ntrain={json.dumps(result.train)}\n"
                     f"verdicts={len(verdicts)}\nbase={result.base}\n")
            if target is not None:
                fh.write(f"pr={target.number}\nhead-ref={target.head_ref}\n"
                         f"same-repo={'true' if target.same_repo else 'false'}\n")
    rows = "\n".join(f"| `{m.model}` | {'train' if m.train else 'trained'} | {m.reason} |" for m in result.models)
    step_summary("### mlops plan\n\n" + (f"| model | plan | why |\n|---|---|---|\n{rows}" if rows else
                                         "No model changed.") + f"\n\n{len(verdicts)} verdict(s) on pins and rules.")
    return 0

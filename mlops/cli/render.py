"""Render the Kubernetes manifests of the models pinned in each environment.

Writes <out>/<env>/ (default build/manifests): a namespace (Pod Security "restricted"), and per pinned
model a Deployment, Service, HorizontalPodAutoscaler, PodDisruptionBudget, NetworkPolicy, ServiceAccount
and ConfigMap, plus a kustomization.yaml for Argo CD or Flux. Every object is checked against the strict
schema of the environment's Kubernetes version and against Pod Security "restricted" before anything is
written; the output is byte-for-byte deterministic. Templates come with mlops and can be overridden per
file from environments/templates/<name>.yaml.j2.

--check DIR writes nothing: it exits 1 and names each file of DIR that is stale, missing or extra.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mlops.cli._run import add_repo_argument, repo_root, report_problems, step_summary

EXAMPLES = """examples:
  mlops render                                  every environment into build/manifests/<env>/
  mlops render --env prod --out deploy          deploy/prod/
  mlops render --env dev --model digits-cnn     only build/manifests/dev/digits-cnn/
  mlops render --check deploy                   fail when the committed deploy/ tree is stale"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_repo_argument(parser)
    parser.add_argument("--env", action="append", metavar="ENV",
                        help="environment to render (repeatable; default: every kubernetes environment)")
    parser.add_argument("--model", metavar="NAME", help="render only this model's files")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--out", metavar="DIR", help="write <DIR>/<env>/ (default: build/manifests)")
    where.add_argument("--check", metavar="DIR", help="compare with the tree in DIR; write nothing, exit 1 if stale")


def run(args: argparse.Namespace) -> int:
    from mlops.adapters.scm import repository_url
    from mlops.render import DEFAULT_OUT, compare, render, summary, write

    root = repo_root(args.repo)
    rendered = render(root, args.env, args.model, repo_url=repository_url(root))
    if args.check:
        problems = compare(Path(args.check), rendered, args.model, whole_tree=not args.env and not args.model)
        if problems:
            report_problems(problems, "rendered manifests are stale")
            return 1
        print(f"ok: {Path(args.check).as_posix()} is up to date ({', '.join(e.name for e in rendered)})")
        return 0
    out = Path(args.out) if args.out else (DEFAULT_OUT if Path.cwd() == root else root / DEFAULT_OUT)
    write(out, rendered, args.model)
    lines = summary(out, rendered, args.model)
    print("\n".join(lines))
    step_summary("### mlops render\n\n" + "\n".join(f"- {line}" for line in lines))
    sys.stdout.flush()
    return 0

"""Which models a pull request changed, and which of them still need training.

A model is *changed* when anything under ``models/<name>/`` changed between the merge base of BASE and HEAD, or when
``data.dvc`` changed (a new data version concerns every model). A changed model *needs training* unless a version
record was added under ``models/<name>/versions/`` after the last commit that changed its training inputs (the model
directory minus ``versions/`` and markdown, plus ``data.dvc``). That rule is what stops the loop: the training job
pushes the record as a new commit, the new commit starts a new run, and that run sees the record and only evaluates.

Standard library and git only, so it runs before anything is installed. Prints both lists as JSON and, under GitHub
Actions, writes them as the step outputs ``changed`` and ``train``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# A DNS-1123 label, the rule model names follow; anything else is left to `mlops validate` to report.
NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
DATA_POINTER = "data.dvc"


class GitError(Exception):
    """A git command failed (unknown revision, not a repository, shallow history)."""


@dataclass(frozen=True)
class Plan:
    changed: list[str]
    train: list[str]


def git(repo: Path, *args: str) -> str:
    proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise GitError(f"git {' '.join(args)}: {proc.stderr.strip() or f'exit {proc.returncode}'}")
    return proc.stdout


def models_at(repo: Path, rev: str) -> set[str]:
    """Model directories that hold a model.yaml at ``rev``."""
    listing = git(repo, "ls-tree", "-r", "--name-only", "-z", rev, "--", "models")
    names = set()
    for path in filter(None, listing.split("\0")):
        parts = path.split("/")
        if len(parts) == 3 and parts[2] == "model.yaml" and NAME.match(parts[1]):
            names.add(parts[1])
    return names


def input_pathspecs(name: str) -> list[str]:
    """What a model's training depends on: its directory except records and prose, and the data pointer."""
    return [f"models/{name}", f":(exclude)models/{name}/versions", f":(exclude,glob)models/{name}/**/*.md",
            DATA_POINTER]


def needs_training(repo: Path, base: str, head: str, name: str) -> bool:
    last_input = git(repo, "log", "-1", "--format=%H", f"{base}..{head}", "--", *input_pathspecs(name)).strip()
    if not last_input:
        return False  # only records or prose changed
    added = git(repo, "diff", "--name-only", "--diff-filter=A", last_input, head, "--", f"models/{name}/versions")
    return not added.strip()


def plan(repo: Path, base_rev: str, head_rev: str) -> Plan:
    head = git(repo, "rev-parse", "--verify", f"{head_rev}^{{commit}}").strip()
    base = git(repo, "merge-base", base_rev, head).strip()
    files = [f for f in git(repo, "diff", "--name-only", "-z", base, head).split("\0") if f]
    present = models_at(repo, head)
    touched = {parts[1] for parts in (f.split("/") for f in files) if len(parts) >= 3 and parts[0] == "models"}
    if DATA_POINTER in files:
        touched |= present
    changed = sorted(touched & present)
    return Plan(changed, [name for name in changed if needs_training(repo, base, head, name)])


def write_outputs(result: Plan, output: str | None, summary: str | None) -> None:
    if output:
        with Path(output).open("a", encoding="utf-8") as fh:
            fh.write(f"changed={json.dumps(result.changed)}\ntrain={json.dumps(result.train)}\n")
    if summary:
        def cell(names: list[str]) -> str:
            return ", ".join(f"`{n}`" for n in names) or "none"

        with Path(summary).open("a", encoding="utf-8") as fh:
            fh.write(f"### Changed models\n\n| changed | to train |\n|---|---|\n"
                     f"| {cell(result.changed)} | {cell(result.train)} |\n\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="base revision (the PR's base branch or commit)")
    parser.add_argument("--head", default="HEAD", help="head revision (default: HEAD)")
    parser.add_argument("--repo", default=".", type=Path, help="repository root (default: .)")
    args = parser.parse_args(argv)
    try:
        result = plan(args.repo, args.base, args.head)
    except GitError as exc:
        print(f"changed-models: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"changed": result.changed, "train": result.train}))
    in_actions = os.environ.get("GITHUB_ACTIONS") == "true"
    write_outputs(result, os.environ.get("GITHUB_OUTPUT") if in_actions else None,
                  os.environ.get("GITHUB_STEP_SUMMARY") if in_actions else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())

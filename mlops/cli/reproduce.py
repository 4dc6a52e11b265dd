"""Re-train a version from its record alone and compare the artifact digests.

The record fixes the data section, params, training settings, seed, threads and number of processes.
Exit 0 when the new artifact is byte-for-byte the recorded one; exit 1 otherwise, with the inputs
that differ between the record and this checkout (data version, model.py, commit, Python, torch,
device) — the likely explanation of the mismatch. On CPU, the same inputs give the same digest.
"""

from __future__ import annotations

import argparse
import json
import sys

from mlops.cli._run import add_repo_argument, repo_root, step_summary

EXAMPLES = """examples:
  mlops reproduce digits-cnn@20250101-3fa4b2c1
  mlops reproduce cancer-mlp@20250101-9d0e1f2a --json"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="MODEL@VERSION", help="the version to reproduce")
    add_repo_argument(parser)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    from mlops.train.reproduce import reproduce

    result = reproduce(repo_root(args.repo), args.target)
    if args.json:
        print(json.dumps(result.to_json(), indent=2, sort_keys=True))
    name = f"{result.model}@{result.version}"
    if result.identical:
        if not args.json:
            print(f"reproduced {name}: identical artifact {result.actual}")
        if result.differences and not args.json:
            print("  (inputs that differ but did not change the artifact: " + "; ".join(result.differences) + ")")
        step_summary(f"### ✅ mlops reproduce {name}\n\nIdentical artifact `{result.actual}`.")
        return 0
    lines = [f"{name} did not reproduce: recorded {result.expected}, got {result.actual}",
             *(f"  - {d}" for d in result.differences)]
    if not result.differences:
        lines.append("  - no recorded input differs: training is not deterministic on this machine")
    if not args.json:
        print("\n".join(lines), file=sys.stderr)
    step_summary(f"### ❌ mlops reproduce {name}\n\n" + "\n".join(lines[1:]))
    return 1

"""Write .github/CODEOWNERS from the repository: owners as code.

Each model's owners own models/<name>/, and its version records with the governance team; each
environment's approvers own environments/<env>.yaml, with the governance team; the owners of every model
own data.dvc; the governance team owns .github/, mlops/, the CODEOWNERS file and .github/mlops.yaml.
The governance team comes from .github/mlops.yaml (governance: {team: "@org/team"}); that file is
optional: without it, no governance line is generated. GitHub applies the last matching line, so
general patterns come first; a pattern without owners is never written (it would un-assign ownership).

The file is written atomically and only when it changed. --check writes nothing: it exits 1 with the
first line that differs when the file is stale or missing. `mlops validate` fails on a stale
.github/CODEOWNERS too (a missing one is fine: adopters may not want it).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mlops.cli._run import add_repo_argument, repo_root, report_problems

EXAMPLES = """examples:
  mlops codeowners                     write .github/CODEOWNERS
  mlops codeowners --check             in CI: exit 1 when the committed file is stale
  mlops codeowners --out /tmp/CODEOWNERS"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_repo_argument(parser)
    parser.add_argument("--out", metavar="PATH", help="the file to write or check (default: .github/CODEOWNERS "
                        "of the repository)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when the file is stale or "
                        "missing")


def _display(target: Path, root: Path) -> str:
    try:
        return target.resolve().relative_to(root).as_posix()
    except ValueError:
        return str(target)


def run(args: argparse.Namespace) -> int:
    from mlops.core import owners
    from mlops.core.repo import load_repository

    root = repo_root(args.repo)
    target = Path(args.out) if args.out else root / owners.CODEOWNERS_FILE
    display = _display(target, root)
    generated = owners.generate_for(load_repository(root))
    if args.check:
        problem = owners.check(target, display, generated)
        if problem is not None:
            report_problems([problem], "CODEOWNERS is stale")
            return 1
        print(f"ok: {display} is up to date ({generated.rules} rules)")
        return 0
    changed = owners.write(target, display, generated)
    print(f"wrote {display} ({generated.rules} rules)" if changed else f"up to date: {display} "
          f"({generated.rules} rules)")
    return 0

"""The demo: the framework's loop on one machine, run by scripts/demo. Prints what it did and where."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def step(title: str, *argv: str) -> None:
    print(f"\n── {title}\n$ mlops {' '.join(argv)}", flush=True)
    code = subprocess.run([sys.executable, "-m", "mlops", *argv], cwd=ROOT).returncode
    if code != 0:
        sys.exit(code)


def main() -> int:
    step("validate the repository (specs, environments, records, DVC-tracked data)", "validate")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The validate path stays light: no torch, evidently, pandas, dvc, docker or kubernetes on import.

Not a timing test (timings live in benchmarks/bench_validate_render.py): it checks which modules a
fresh interpreter has loaded after running the command exactly as ``python -m mlops`` does.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

HEAVY = ("torch", "evidently", "pandas", "dvc", "docker", "kubernetes")

PROBE = """
import contextlib, io, json, runpy, sys
watch = set(json.loads(sys.argv[2]))
sys.argv = ["mlops", *json.loads(sys.argv[1])]
sink = io.StringIO()
code = 0
try:
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        runpy.run_module("mlops", run_name="__main__", alter_sys=True)
except SystemExit as exc:
    code = exc.code
heavy = sorted({m.split(".")[0] for m in sys.modules} & watch)
print(json.dumps({"code": code, "heavy": heavy, "output": sink.getvalue()}))
"""


def loaded_after(*args: str, watch: tuple[str, ...] = HEAVY) -> dict[str, object]:
    proc = subprocess.run([sys.executable, "-c", PROBE, json.dumps(args), json.dumps(watch)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=True)
    result: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def test_help_imports_nothing_heavy() -> None:
    result = loaded_after("--help")
    assert result["code"] == 0 and "validate" in str(result["output"])
    assert result["heavy"] == []


def test_validate_imports_nothing_heavy(example_repo: Path) -> None:
    result = loaded_after("validate", "--repo", str(example_repo))
    assert result["code"] == 0, result["output"]
    assert result["heavy"] == []


def test_validate_of_a_bad_repository_imports_nothing_heavy(example_repo: Path) -> None:
    (example_repo / "models/cancer-mlp/model.py").write_text("def make():\n    pass\n")
    result = loaded_after("validate", "--repo", str(example_repo))
    assert result["code"] == 1
    assert result["heavy"] == []


def test_the_probe_would_notice() -> None:
    """Not vacuous: a module the command does import is reported."""
    assert loaded_after("--help", watch=("argparse", "mlops"))["heavy"] == ["argparse", "mlops"]

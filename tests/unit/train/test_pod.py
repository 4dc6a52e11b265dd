"""The training pod's entry point: copy the read-only repository, run torchrun there, hand back new records."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from mlops.train.handback import Collector
from mlops.train.pod import copy_repository

RECORD = """
import os, pathlib, sys
if os.environ["RANK"] == "0":
    path = pathlib.Path("models/m/versions/v2.yaml")
    path.write_text("model: m\\n")
    path.with_suffix(".dvc").write_text("outs: []\\n")
print("trained in", os.getcwd(), flush=True)
sys.exit(int(os.environ.get("FAIL", "0")))
"""


def _source(tmp_path: Path) -> Path:
    src = tmp_path / "workspace"
    for rel, text in {"models/m/model.yaml": "name: m\n", "models/m/versions/v1.yaml": "old\n",
                      ".dvc/config": "[core]\n", ".dvc/cache/files/x": "cached\n", ".dvc/tmp/lock": "",
                      ".mlops/runs/x": "", ".venv/bin/python": "", "models/m/__pycache__/a.pyc": "",
                      ".git/HEAD": "ref: refs/heads/main\n", "data/d.csv": "a\n1\n", "train.py": RECORD}.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(text)
    (src / "link").symlink_to("models/m/model.yaml")
    os.mkfifo(src / "models" / "fifo")
    return src


def _files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if not p.is_dir()}


def test_the_copy_leaves_machine_state_out_and_is_writable(tmp_path: Path) -> None:
    src = _source(tmp_path)
    for path in sorted(src.rglob("*"), reverse=True):  # an image's files may be read-only to the pod's user
        if not path.is_symlink() and not stat.S_ISFIFO(path.lstat().st_mode):
            path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        files, size = copy_repository(src, tmp_path / "scratch" / "repo")
    finally:
        for path in [src, *src.rglob("*")]:
            if path.is_dir() and not path.is_symlink():
                path.chmod(0o755)
    work = tmp_path / "scratch" / "repo"
    assert _files(work) == {"models/m/model.yaml", "models/m/versions/v1.yaml", ".dvc/config", ".git/HEAD",
                            "data/d.csv", "train.py", "link"}
    assert (work / "link").is_symlink() and files == 6 and size > 0
    (work / "models" / "m" / "versions" / "v2.yaml").write_text("new\n")  # writable, directories too
    (work / "data" / "d.csv").write_text("b\n")
    assert not (tmp_path / "scratch" / "repo.partial").exists()


def _pod(src: Path, work: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mlops.train.pod", f"--workdir={work}", "--", "--standalone",
                           "--nnodes=1", "--nproc-per-node=1", "train.py"], cwd=src, capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}, timeout=120)


@pytest.mark.slow
def test_torchrun_runs_in_the_copy_and_new_version_files_are_handed_back(tmp_path: Path) -> None:
    src, work = _source(tmp_path), tmp_path / "scratch" / "repo"
    done = _pod(src, work)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"mlops: copied the repository {src} to {work} (")
    assert f"trained in {work}" in lines
    assert "mlops: handing back models/m/versions/v2.dvc, models/m/versions/v2.yaml" in lines
    collector = Collector()
    shown = [line for line in lines if collector.feed("index 0", line)]
    assert collector.last("index 0") == {"models/m/versions/v2.yaml": "model: m\n",
                                         "models/m/versions/v2.dvc": "outs: []\n"}  # not v1: the image had it
    assert shown[-1].startswith("mlops: handing back ")
    assert not (src / "models" / "m" / "versions" / "v2.yaml").exists()

    again = _pod(src, work, {"FAIL": "3"})  # the same pod started again: its copy is reused; failure passes on
    assert again.returncode == 1  # torchrun's code for a failed worker
    assert again.stdout.splitlines()[-1] == "mlops: torchrun exited with code 1"
    assert again.stdout.splitlines()[0] == f"mlops: reusing {work}, copied by an earlier start of this pod " \
                                           "(its checkpoints resume)"
    assert "::mlops-record-begin::" not in again.stdout


def test_usage() -> None:
    for args in ([], ["--workdir=/x"], ["--workdir=/x", "--"], ["--other", "--", "x.py"]):
        done = subprocess.run([sys.executable, "-m", "mlops.train.pod", *args], capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 2 and done.stderr.startswith("usage: python -m mlops.train.pod --workdir DIR --")

"""Facts about the inputs and the machine, for the version record: code, data, software, hardware."""

from __future__ import annotations

import hashlib
import os
import platform
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from mlops.core import yamlpos
from mlops.core.errors import Problem, UserError

UNKNOWN_COMMIT = "unknown"


@dataclass(frozen=True)
class CodeFacts:
    commit: str
    dirty: bool
    model_py_sha256: str


def sha256_file(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def git_state(root: Path) -> tuple[str, bool]:
    """(HEAD commit, dirty) of the repository at ``root``; ("unknown", True) outside git."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                              timeout=30, check=True).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                                capture_output=True, text=True, timeout=60, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return UNKNOWN_COMMIT, True
    return head, bool(status.strip())


def code_facts(root: Path, model_py: Path) -> CodeFacts:
    commit, dirty = git_state(root)
    return CodeFacts(commit, dirty, sha256_file(model_py))


def data_md5(root: Path) -> str:
    """The DVC md5 of the tracked data directory (``outs[0].md5`` of ``data.dvc``)."""
    doc = yamlpos.load(root / "data.dvc", "data.dvc")
    outs = doc.data.get("outs") if isinstance(doc.data, dict) else None
    md5 = outs[0].get("md5") if isinstance(outs, list) and outs and isinstance(outs[0], dict) else None
    if not isinstance(md5, str):
        raise UserError(Problem("data.dvc", 1, 1, "expected 'outs' with one tracked directory and its md5 "
                                                  "(run `dvc add data`)"))
    return md5


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text("utf-8", errors="replace").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def runner_name() -> str:
    return os.environ.get("RUNNER_NAME") or socket.gethostname() or "local"

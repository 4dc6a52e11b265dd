"""Facts about the inputs and the machine, for the version record: code, data, software, hardware."""

from __future__ import annotations

import hashlib
import os
import platform
import socket
from dataclasses import dataclass
from pathlib import Path

from mlops.adapters.scm import try_open_scm

UNKNOWN_COMMIT = "unknown"


@dataclass(frozen=True)
class CodeFacts:
    commit: str
    dirty: bool
    model_py_sha256: str


def sha256_file(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def git_state(root: Path) -> tuple[str, bool]:
    """(HEAD commit, dirty) of the repository at ``root``; ("unknown", True) outside git or before a commit."""
    scm = try_open_scm(root)
    head = scm.head() if scm is not None else None
    if scm is None or head is None:
        return UNKNOWN_COMMIT, True
    return head, scm.dirty()


def code_facts(root: Path, model_py: Path) -> CodeFacts:
    commit, dirty = git_state(root)
    return CodeFacts(commit, dirty, sha256_file(model_py))


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

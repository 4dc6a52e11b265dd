"""Real git repositories for tests: a fixed test identity, hooks off, a bare remote when asked."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
EXAMPLE_PARTS = ["models", "environments", "data.dvc", ".dvc/config", ".dvc/.gitignore", ".dvcignore"]

IDENTITY = ["-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main",
            "-c", "commit.gpgsign=false"]


def git(cwd: Path, *args: str, check: bool = True) -> str:
    """stdout of ``git ARGS`` in ``cwd`` (stripped), as the test identity; a failure raises unless ``check`` is off."""
    proc = subprocess.run(["git", "-C", str(cwd), *IDENTITY, *args], capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout.strip()


def init_repo(path: Path, message: str = "base", *, gitignore: str | None = None) -> str:
    """Make ``path`` (holding files already) a repository on branch main with one commit; returns its sha."""
    path.mkdir(parents=True, exist_ok=True)
    if gitignore is not None:
        (path / ".gitignore").write_text(gitignore, encoding="utf-8")
    git(path, "init", "-q", "-b", "main")
    return commit_all(path, message)


def commit_all(path: Path, message: str) -> str:
    """Stage everything and commit it (empty commits allowed); returns the new HEAD."""
    git(path, "add", "-A")
    git(path, "commit", "-q", "--allow-empty", "-m", message)
    return git(path, "rev-parse", "HEAD")


def with_origin(path: Path, origin: Path) -> Path:
    """A bare clone of ``path`` at ``origin``, added as its remote ``origin`` (branches pushed)."""
    subprocess.run(["git", "clone", "-q", "--bare", str(path), str(origin)], check=True, capture_output=True)
    git(path, "remote", "add", "origin", str(origin))
    git(path, "fetch", "-q", "origin")
    return origin


def copy_example(dest: Path) -> Path:
    """A copy of this checkout's example repository at ``dest``: specs, environments, the DVC pointer and config,
    and DVC's cache (so the data version's files are there without a remote). Not a git repository yet."""
    dest.mkdir(parents=True, exist_ok=True)
    for part in EXAMPLE_PARTS:
        src = ROOT / part
        if src.is_dir():
            shutil.copytree(src, dest / part, ignore=shutil.ignore_patterns("__pycache__"))
        elif src.exists():
            (dest / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / part)
    cache = ROOT / ".dvc" / "cache"
    if cache.is_dir():
        shutil.copytree(cache, dest / ".dvc" / "cache")
    return dest

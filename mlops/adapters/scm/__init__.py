"""The Scm seam: everything the framework asks of git, in one small Protocol.

Reading history (a file at a revision, the merge base, changed paths, the log of a path, who authored and
committed a change) and writing it the way a bot does (a branch, a commit of given files, a revert, a push
with a token handed over per call). Every automatic change the framework makes — a version record, a
promotion, a rollback, a retraining data version — is a commit made through this seam, so "git stays true"
is enforced in one place.

``GitScm`` (:mod:`mlops.adapters.scm.gitpython`) is the implementation, on GitPython. Its local use is the
same class over a local bare remote (the demo's ``origin``); nothing here pretends. Paths are relative to
the mlops repository root, which may be a sub-directory of the git work tree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from mlops.core.errors import Problem, UsageError, UserError

__all__ = ["BOT", "Change", "Commit", "Identity", "Scm", "ScmError", "open_scm", "repository_url", "try_open_scm"]


class ScmError(UserError):
    """git refused an operation (a conflict, a rejected push, a missing branch); the message says which."""

    def __init__(self, message: str) -> None:
        super().__init__(Problem("git", 1, 1, message))


@dataclass(frozen=True)
class Identity:
    """Who authors or commits: ``name <email>``."""

    name: str
    email: str

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


BOT = Identity("mlops-bot", "mlops-bot@users.noreply.localhost")  # the local identity of automatic changes


@dataclass(frozen=True)
class Commit:
    sha: str
    parents: tuple[str, ...]
    author: Identity
    committer: Identity
    authored: str  # ISO 8601
    committed: str  # ISO 8601
    message: str

    @property
    def subject(self) -> str:
        return self.message.split("\n", 1)[0]


@dataclass(frozen=True)
class Change:
    """One path changed between two revisions: ``A`` added, ``M`` modified, ``D`` deleted, ``?`` untracked."""

    status: str
    path: str


class Scm(Protocol):
    """What the framework needs from git. Revisions are anything ``git rev-parse`` understands."""

    root: Path  # the mlops repository root (paths below are relative to it)
    top: Path  # the git work tree's top directory (the root or a parent of it)

    # -- reading ---------------------------------------------------------------------------------------

    def repo_path(self, path: str) -> str:
        """``path`` (relative to the root) relative to the work tree's top, as forges name files."""
        ...

    def head(self) -> str | None:
        """The commit checked out (None in a repository without commits)."""
        ...

    def branch(self) -> str | None:
        """The branch checked out (None when detached)."""
        ...

    def dirty(self) -> bool:
        """Whether tracked files differ from HEAD (untracked files do not count)."""
        ...

    def resolve(self, rev: str) -> str | None:
        """The commit ``rev`` names, or None when git does not know it."""
        ...

    def require(self, rev: str) -> str:
        """The commit ``rev`` names; a usage error that says how to fetch it when unknown."""
        ...

    def read(self, rev: str, path: str) -> bytes | None:
        """The bytes of ``path`` at ``rev``, or None when it does not exist there."""
        ...

    def merge_base(self, a: str, b: str = "HEAD") -> str | None: ...

    def changed(self, base: str, head: str | None = None, paths: Sequence[str] = (), *,
                untracked: bool = False) -> list[Change]:
        """Paths changed from ``base`` to ``head`` (None: the working tree; ``untracked`` adds new files).

        ``paths`` are git pathspecs relative to the root (globs such as ``models/*/versions/*.yaml`` work).
        """
        ...

    def log(self, paths: Sequence[str] = (), rev: str = "HEAD", *, max_count: int | None = None,
            first_parent: bool = False, containing: str | None = None) -> list[Commit]:
        """Commits reachable from ``rev`` that touch ``paths`` (all commits when empty), newest first.
        ``containing``: only those that change how often that text occurs in them (git's pickaxe, ``-S``; with
        ``first_parent`` a merge is compared with its first parent)."""
        ...

    def commit_info(self, rev: str) -> Commit: ...

    def list_paths(self, rev: str, paths: Sequence[str]) -> list[str]:
        """Which of ``paths`` exist at ``rev`` (top-level entries, as ``git ls-tree --name-only``)."""
        ...

    def files(self, rev: str, directory: str) -> list[str]:
        """Every file under ``directory`` at ``rev`` (recursively; [] when it does not exist)."""
        ...

    def export(self, rev: str, paths: Sequence[str], dest: Path) -> Path:
        """Extract ``paths`` of ``rev`` under ``dest``; returns the repository root there."""
        ...

    def remote_url(self, name: str = "origin") -> str | None: ...

    # -- writing (the bot's changes) ---------------------------------------------------------------------

    def create_branch(self, name: str, start: str, *, force: bool = False) -> str:
        """Create (or with ``force`` move) branch ``name`` at ``start``; returns its commit."""
        ...

    def commit_files(self, branch: str, files: Mapping[str, bytes | None], message: str, *,
                     author: Identity | None = None, start: str | None = None) -> str:
        """Commit ``files`` (path → new bytes, None deletes) on ``branch`` and return the new commit.

        The branch is created at ``start`` when missing. A branch that is not checked out is written
        without touching the working tree or the index; the checked-out branch gets its files written
        and only those paths committed. No hooks run.
        """
        ...

    def revert(self, sha: str, *, onto: str, message: str | None = None,
               author: Identity | None = None) -> str:
        """Commit the inverse of ``sha`` on branch ``onto``; a conflict is an :class:`ScmError`."""
        ...

    def merge(self, sha: str, *, onto: str, message: str, author: Identity | None = None) -> str:
        """Commit a merge of ``sha`` into branch ``onto`` (always a merge commit); a conflict is an error."""
        ...

    def push(self, refspec: str, *, remote: str = "origin", token: str | None = None,
             force: bool = False) -> None:
        """Push ``refspec``. ``token`` goes to git for this call only (an HTTP header, never the URL or config)."""
        ...

    def fetch(self, refspec: str, *, remote: str = "origin", token: str | None = None) -> None: ...


def open_scm(root: Path) -> Scm:
    """The git repository that holds ``root``; a usage error (exit 2) outside one."""
    from mlops.adapters.scm.gitpython import GitScm

    return GitScm(root)


def try_open_scm(root: Path) -> Scm | None:
    """Like :func:`open_scm`, or None outside a git repository (for verbs that work without git)."""
    try:
        return open_scm(root)
    except UsageError:
        return None


def repository_url(root: Path, explicit: str | None = None, env: Mapping[str, str] | None = None) -> str | None:
    """The repository's web/clone URL, never with credentials: ``explicit``, else GitHub Actions' server and
    repository, else the clone's ``origin`` (``git@host:org/repo`` becomes ``https://host/org/repo``)."""
    import os
    import re

    env = os.environ if env is None else env
    if explicit:
        url = explicit
    elif env.get("GITHUB_SERVER_URL") and env.get("GITHUB_REPOSITORY"):
        url = f"{env['GITHUB_SERVER_URL'].rstrip('/')}/{env['GITHUB_REPOSITORY']}"
    else:
        scm = try_open_scm(root)
        url = (scm.remote_url("origin") if scm is not None else None) or ""
    if not url:
        return None
    match = re.match(r"^[\w.-]+@([\w.-]+):(.+)$", url)  # git@github.com:org/repo.git
    if match:
        url = f"https://{match.group(1)}/{match.group(2)}"
    url = re.sub(r"^(\w[\w+.-]*://)[^/@]*@", r"\1", url)  # drop user:token@
    return url.removesuffix(".git")

"""``GitScm``: the Scm seam on GitPython (the git command line underneath, as GitPython drives it).

Writes never run repository hooks or an fsmonitor (a pull request can ship both), and a token reaches git
only through the environment of the one command that needs it, as an ``http.extraheader`` — never in a
URL, a config file, the process list or a message.
"""

from __future__ import annotations

import base64
import io
import os
import tarfile
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import git
from gitdb.base import IStream

from mlops.adapters.scm import Change, Commit, Identity, ScmError
from mlops.core.errors import UsageError

_HARDENED = {"core.hooksPath": os.devnull, "core.fsmonitor": "false", "credential.helper": ""}
_FIELDS = ("%H", "%P", "%an", "%ae", "%aI", "%cn", "%ce", "%cI", "%B")
_FORMAT = "%x1f".join(_FIELDS) + "%x1e"


def _config_env(settings: Mapping[str, str]) -> dict[str, str]:
    """``git -c`` settings as environment variables (git ≥ 2.31), so they never show in the process list."""
    env = {"GIT_CONFIG_COUNT": str(len(settings)), "GIT_TERMINAL_PROMPT": "0"}
    for i, (key, value) in enumerate(settings.items()):
        env[f"GIT_CONFIG_KEY_{i}"], env[f"GIT_CONFIG_VALUE_{i}"] = key, value
    return env


class GitScm:
    """The git repository holding ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        try:
            self.repo = git.Repo(self.root, search_parent_directories=True)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            raise UsageError(f"{self.root} is not inside a git repository; expected a clone "
                             "(git init, or git clone of the project)") from None
        self.top = top = Path(self.repo.working_tree_dir or self.root).resolve()
        prefix = self.root.relative_to(top).as_posix() if self.root.is_relative_to(top) else "."
        self.prefix = "" if prefix == "." else prefix + "/"

    def __repr__(self) -> str:
        return f"GitScm({str(self.root)!r})"

    # -- plumbing ------------------------------------------------------------------------------------------

    def _git(self, *args: str, env: Mapping[str, str] | None = None, raw: bool = False, ok: bool = False,
             secret: str | None = None) -> Any:
        """Run git; ``ok`` returns None instead of raising; ``secret`` is scrubbed from any message."""
        try:
            return self.repo.git.execute(["git", *args], env=dict(env or {}), stdout_as_string=not raw,
                                         strip_newline_in_stdout=not raw)
        except git.GitCommandError as exc:
            if ok:
                return None
            detail = (exc.stderr or exc.stdout or "").strip().removeprefix("stderr: ").strip("'\n ")
            lines = [ln.strip() for ln in detail.splitlines() if ln.strip()]
            verb = next((a for a in args if not a.startswith("-") and "/" not in a), "git")
            message = f"`git {verb}` failed: {lines[-1] if lines else f'exit {exc.status}'}"
            for hidden in _secrets(secret):
                message = message.replace(hidden, "***")
            raise ScmError(message) from None

    def _path(self, path: str) -> str:
        return self.prefix + path

    def repo_path(self, path: str) -> str:
        return self._path(path)

    def _spec(self, paths: Sequence[str]) -> list[str]:
        return [(":(glob)" if any(c in p for c in "*?[") else "") + self._path(p) for p in paths] or (
            [self.prefix] if self.prefix else [])

    def _rel(self, path: str) -> str:
        return path.removeprefix(self.prefix)

    # -- reading -------------------------------------------------------------------------------------------

    def head(self) -> str | None:
        return self.resolve("HEAD")

    def branch(self) -> str | None:
        name = self._git("symbolic-ref", "--quiet", "--short", "HEAD", ok=True)
        return name or None

    def dirty(self) -> bool:
        return bool(self._git("status", "--porcelain", "--untracked-files=no"))

    def resolve(self, rev: str) -> str | None:
        if not rev or rev.startswith("-"):
            return None
        out = self._git("rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}", ok=True)
        return out or None

    def require(self, rev: str) -> str:
        sha = self.resolve(rev)
        if sha is None:
            raise UsageError(f"unknown git revision {rev!r}; expected a branch, tag or commit "
                             "(fetch it first, e.g. `git fetch origin main`)")
        return sha

    def read(self, rev: str, path: str) -> bytes | None:
        name = f"{rev}:{self._path(path)}"
        if "\n" in name or rev.startswith("-"):  # not a line of cat-file's batch protocol, or an option
            return None
        try:  # git's persistent `cat-file --batch` process: no process per read (explain reads many)
            _, kind, _, data = self.repo.git.get_object_data(name)
        except ValueError:  # no such revision, or no such path there
            return None
        return bytes(data) if kind == b"blob" else None

    def merge_base(self, a: str, b: str = "HEAD") -> str | None:
        return self._git("merge-base", a, b, ok=True) or None

    def changed(self, base: str, head: str | None = None, paths: Sequence[str] = (), *,
                untracked: bool = False) -> list[Change]:
        revs = [base] if head is None else [base, head]
        out = self._git("diff", "--name-status", "--no-renames", "-z", *revs, "--", *self._spec(paths))
        fields = [f for f in out.split("\0") if f]
        changes = [Change(fields[i][0], self._rel(fields[i + 1])) for i in range(0, len(fields) - 1, 2)]
        if untracked and head is None:
            new = self._git("ls-files", "--others", "--exclude-standard", "-z", "--", *self._spec(paths))
            changes += [Change("?", self._rel(p)) for p in new.split("\0") if p]
        return changes

    def log(self, paths: Sequence[str] = (), rev: str = "HEAD", *, max_count: int | None = None,
            first_parent: bool = False, containing: str | None = None) -> list[Commit]:
        args = ["log", f"--format={_FORMAT}", "--no-show-signature"]
        args += [f"--max-count={max_count}"] if max_count is not None else []
        args += ["--first-parent"] if first_parent else []
        args += [f"-S{containing}"] if containing else []
        if any(self.resolve(side) is None for side in rev.split("..") if side):
            return []
        out = self._git(*args, "--end-of-options", rev, "--", *self._spec(paths), raw=True)
        return [_commit(chunk) for chunk in bytes(out).decode("utf-8", "replace").split("\x1e") if chunk.strip()]

    def commit_info(self, rev: str) -> Commit:
        found = self.log(rev=self.require(rev), max_count=1)
        return found[0]

    def list_paths(self, rev: str, paths: Sequence[str]) -> list[str]:
        out = self._git("ls-tree", "--name-only", self.require(rev), "--", *[self._path(p) for p in paths])
        return [self._rel(p) for p in out.splitlines() if p]

    def files(self, rev: str, directory: str) -> list[str]:
        sha = self.resolve(rev)
        if sha is None:
            return []
        out = self._git("ls-tree", "-r", "--name-only", "-z", sha, "--", self._path(directory.rstrip("/")) + "/")
        return [self._rel(p) for p in out.split("\0") if p]

    def export(self, rev: str, paths: Sequence[str], dest: Path) -> Path:
        present = [self._path(p) for p in self.list_paths(rev, paths)]
        if present:
            data = self._git("archive", "--format=tar", self.require(rev), "--", *present, raw=True)
            with tarfile.open(fileobj=io.BytesIO(bytes(data)), mode="r:") as tar:
                tar.extractall(dest, filter="data")
        return dest / self.prefix

    def remote_url(self, name: str = "origin") -> str | None:
        return self._git("config", "--get", f"remote.{name}.url", ok=True) or None

    # -- writing -------------------------------------------------------------------------------------------

    def _env(self, author: Identity | None = None, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = _config_env({**_HARDENED, **(extra or {})})
        if author is not None:
            env.update(GIT_AUTHOR_NAME=author.name, GIT_AUTHOR_EMAIL=author.email,
                       GIT_COMMITTER_NAME=author.name, GIT_COMMITTER_EMAIL=author.email)
        return env

    def create_branch(self, name: str, start: str, *, force: bool = False) -> str:
        sha = self.require(start)
        ref = f"refs/heads/{name}"
        self._git("check-ref-format", ref)
        if not force and self.resolve(ref) is not None:
            raise ScmError(f"branch {name!r} already exists")
        self._git("update-ref", ref, sha, env=self._env())
        return sha

    def commit_files(self, branch: str, files: Mapping[str, bytes | None], message: str, *,
                     author: Identity | None = None, start: str | None = None) -> str:
        ref = f"refs/heads/{branch}"
        tip = self.resolve(ref)
        if tip is None:
            tip = self.create_branch(branch, start or "HEAD")
        if self.branch() == branch:
            return self._commit_checked_out(files, message, author)
        with tempfile.TemporaryDirectory(prefix="mlops-index-") as tmp:
            env = {**self._env(author), "GIT_INDEX_FILE": str(Path(tmp) / "index")}
            self._git("read-tree", tip, env=env)
            for path, data in sorted(files.items()):
                if data is None:
                    self._git("update-index", "--force-remove", "--", self._path(path), env=env)
                    continue
                blob = self.repo.odb.store(IStream(b"blob", len(data), io.BytesIO(data))).hexsha.decode()
                self._git("update-index", "--add", "--cacheinfo", f"100644,{blob},{self._path(path)}", env=env)
            tree = self._git("write-tree", env=env)
            sha = self._git("commit-tree", tree, "-p", tip, "-m", message, env=env)
        self._git("update-ref", ref, sha, tip, env=self._env())  # compare-and-swap: a concurrent move fails
        return str(sha)

    def _commit_checked_out(self, files: Mapping[str, bytes | None], message: str, author: Identity | None) -> str:
        from mlops.core.atomic import write_bytes

        top = Path(self.repo.working_tree_dir or self.root)
        for path, data in files.items():
            target = top / self._path(path)
            if data is None:
                target.unlink(missing_ok=True)
            else:
                write_bytes(target, data)
        paths = [self._path(p) for p in sorted(files)]
        env = self._env(author)
        self._git("add", "--all", "--", *paths, env=env)
        self._git("commit", "--quiet", "--no-verify", "-m", message, "--", *paths, env=env)
        return str(self.head())

    def revert(self, sha: str, *, onto: str, message: str | None = None,
               author: Identity | None = None) -> str:
        commit = self.commit_info(sha)
        if len(commit.parents) != 1:
            raise ScmError(f"cannot revert {sha[:12]}: it has {len(commit.parents)} parents; expected one")
        text = message or f'Revert "{commit.subject}"\n\nThis reverts commit {commit.sha}.'
        return self._in_work_tree(onto, ["revert", "--no-commit", commit.sha], text, author,
                                  f"cannot revert {commit.sha[:12]} onto {onto}: it conflicts with later changes; "
                                  "expected the reverted files unchanged since")

    def merge(self, sha: str, *, onto: str, message: str, author: Identity | None = None) -> str:
        target = self.require(sha)
        return self._in_work_tree(onto, ["merge", "--no-ff", "--no-commit", target], message, author,
                                  f"cannot merge {target[:12]} into {onto}: it conflicts; expected the branch "
                                  "brought up to date first")

    def _in_work_tree(self, onto: str, command: list[str], message: str, author: Identity | None,
                      conflict: str) -> str:
        """Run ``git COMMAND`` + commit in a temporary work tree at branch ``onto``, then move the branch."""
        ref = f"refs/heads/{onto}"
        tip = self.resolve(ref)
        if tip is None:
            raise ScmError(f"no branch {onto!r} to commit onto")
        env = self._env(author)
        with tempfile.TemporaryDirectory(prefix="mlops-work-") as tmp:
            work = str(Path(tmp) / "work")
            self._git("worktree", "add", "--quiet", "--detach", work, tip, env=env)
            try:
                if self._git("-C", work, *command, env=env, ok=True) is None:
                    raise ScmError(conflict)
                self._git("-C", work, "commit", "--quiet", "--no-verify", "--allow-empty", "-m", message, env=env)
                new = str(self._git("-C", work, "rev-parse", "HEAD"))
            finally:
                self._git("worktree", "remove", "--force", work, env=env, ok=True)
        if self.branch() == onto:  # move the checked-out branch with its work tree (local edits kept)
            self._git("reset", "--quiet", "--keep", new, env=self._env())
        else:
            self._git("update-ref", ref, new, tip, env=self._env())
        return new

    def push(self, refspec: str, *, remote: str = "origin", token: str | None = None,
             force: bool = False) -> None:
        self._git("push", "--quiet", *(["--force-with-lease"] if force else []), remote, refspec,
                  env=self._env(extra=_auth(token)), secret=token)

    def fetch(self, refspec: str, *, remote: str = "origin", token: str | None = None) -> None:
        self._git("fetch", "--quiet", remote, refspec, env=self._env(extra=_auth(token)), secret=token)


def _basic(token: str) -> str:
    return base64.b64encode(f"x-access-token:{token}".encode()).decode()


def _auth(token: str | None) -> dict[str, str]:
    return {"http.extraheader": f"AUTHORIZATION: basic {_basic(token)}"} if token else {}


def _secrets(token: str | None) -> list[str]:
    return [token, _basic(token)] if token else []


def _commit(chunk: str) -> Commit:
    sha, parents, an, ae, ad, cn, ce, cd, body = chunk.lstrip("\n").split("\x1f", 8)
    return Commit(sha, tuple(parents.split()), Identity(an, ae), Identity(cn, ce), ad, cd, body.strip("\n"))

"""The local forge: pull requests, comments, labels and commit statuses as JSON files in the repository.

The demo's GitHub. State lives in ``<repo>/.mlops/forge/`` (git-ignored): ``pulls/<n>.json`` holds a
pull request with its labels and comments, ``statuses/<sha>.json`` the latest status per context. A
pull request's head must be a branch git knows (locally or on ``origin``, e.g. a local bare remote),
and its head commit is recorded. Writes are atomic and serialised by a lock file, so concurrent
commands never lose each other's changes; like GitHub's, every write is idempotent at the seam.
"""

from __future__ import annotations

import fcntl
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlops.adapters.forge import Comment, ForgeError, PullRequest, StatusState, short_description
from mlops.adapters.scm import try_open_scm
from mlops.core.atomic import write_text

FORGE_DIR = Path(".mlops") / "forge"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class LocalForge:
    """A forge kept as files under ``root/.mlops/forge`` for the repository at ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.dir = self.root / FORGE_DIR

    def __repr__(self) -> str:
        return f"LocalForge({str(self.dir)!r})"

    # -- storage --------------------------------------------------------------------------------

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.dir.mkdir(parents=True, exist_ok=True)
        with (self.dir / ".lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _read(self, path: Path) -> dict[str, Any]:
        try:
            data = json.loads(path.read_text("utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise ForgeError(f"{path}: unreadable local forge file ({exc})") from exc
        return data if isinstance(data, dict) else {}

    def _write(self, path: Path, data: dict[str, Any]) -> None:
        write_text(path, json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n")

    def _pull_file(self, pr: int) -> Path:
        return self.dir / "pulls" / f"{int(pr)}.json"

    def _load_pull(self, pr: int) -> dict[str, Any]:
        data = self._read(self._pull_file(pr))
        if not data:
            raise ForgeError(f"local forge: no pull request #{pr} in {self.dir / 'pulls'}; "
                             "expected one opened with the local forge (e.g. by the demo)")
        return data

    def _next_id(self, key: str) -> int:
        counters_file = self.dir / "counters.json"
        counters = self._read(counters_file)
        value = int(counters.get(key, 0)) + 1
        counters[key] = value
        self._write(counters_file, counters)
        return value

    def _git_sha(self, ref: str) -> str | None:
        scm = try_open_scm(self.root)
        if scm is None:
            return None
        return next((sha for c in (f"refs/heads/{ref}", f"refs/remotes/origin/{ref}") if (sha := scm.resolve(c))),
                    None)

    def close(self) -> None:
        """Nothing to release: every call opens and closes its files."""

    # -- reading (for people, tests and the demo) -----------------------------------------------

    def pulls(self) -> list[dict[str, Any]]:
        files = sorted((self.dir / "pulls").glob("*.json"), key=lambda p: int(p.stem) if p.stem.isdigit() else 0)
        return [self._read(p) for p in files]

    def pull(self, pr: int) -> dict[str, Any]:
        return self._load_pull(pr)

    def statuses(self, sha: str) -> dict[str, dict[str, Any]]:
        return self._read(self.dir / "statuses" / f"{sha}.json")

    # -- the Forge seam -------------------------------------------------------------------------

    def find_comment(self, pr: int, marker: str) -> Comment | None:
        for item in self._load_pull(pr).get("comments", []):
            if item["body"].startswith(marker):
                return Comment(item["id"], item["body"], f"{self._pull_file(pr)}#comment-{item['id']}")
        return None

    def create_comment(self, pr: int, body: str) -> Comment:
        with self._locked():
            pull = self._load_pull(pr)
            comment_id = self._next_id("comment")
            pull.setdefault("comments", []).append({"id": comment_id, "body": body, "created": _now()})
            self._write(self._pull_file(pr), pull)
        return Comment(comment_id, body, f"{self._pull_file(pr)}#comment-{comment_id}")

    def update_comment(self, comment_id: int, body: str) -> Comment:
        with self._locked():
            for path in (self.dir / "pulls").glob("*.json"):
                pull = self._read(path)
                for item in pull.get("comments", []):
                    if item["id"] == comment_id:
                        item.update(body=body, updated=_now())
                        self._write(path, pull)
                        return Comment(comment_id, body, f"{path}#comment-{comment_id}")
        raise ForgeError(f"local forge: no comment {comment_id}")

    def set_status(self, sha: str, state: StatusState, context: str, description: str,
                   target_url: str | None = None) -> None:
        path = self.dir / "statuses" / f"{sha}.json"
        with self._locked():
            statuses = self._read(path)
            statuses[context] = {"state": state, "description": short_description(description),
                                 "target_url": target_url, "updated": _now()}
            self._write(path, statuses)

    def add_labels(self, pr: int, labels: Sequence[str]) -> None:
        with self._locked():
            pull = self._load_pull(pr)
            current = list(pull.get("labels", []))
            pull["labels"] = current + [label for label in dict.fromkeys(labels) if label not in current]
            self._write(self._pull_file(pr), pull)

    def find_open_pr(self, head: str, base: str | None = None) -> PullRequest | None:
        head = head.split(":", 1)[-1]
        for pull in self.pulls():
            if pull.get("state") == "open" and pull.get("head") == head and base in (None, pull.get("base")):
                return _pull(pull, self._pull_file(pull["number"]))
        return None

    def open_pr(self, head: str, base: str, title: str, body: str) -> PullRequest:
        with self._locked():
            existing = self.find_open_pr(head, base)
            if existing is not None:
                return existing
            sha = self._git_sha(head)
            if sha is None:
                raise ForgeError(f"local forge: branch {head!r} is unknown to git in {self.root} "
                                 "(neither a local branch nor on origin); push it first")
            number = self._next_id("pull")
            pull = {"number": number, "head": head, "base": base, "title": title, "body": body, "state": "open",
                    "head_sha": sha, "labels": [], "comments": [], "created": _now()}
            self._write(self._pull_file(number), pull)
        return _pull(pull, self._pull_file(number))


def _pull(data: dict[str, Any], path: Path) -> PullRequest:
    return PullRequest(int(data["number"]), data["head"], data["base"], data.get("title", ""), str(path),
                       data.get("state", "open"))

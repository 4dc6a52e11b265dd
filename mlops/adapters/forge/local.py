"""The local forge: pull requests, issues, comments, labels, statuses and deployments as JSON files.

The demo's GitHub. State lives in ``<repo>/.mlops/forge/`` (git-ignored): ``pulls/<n>.json`` holds a pull
request with its labels, comments and reviews, ``issues/<n>.json`` an issue, ``statuses/<sha>.json`` the
latest status per context, ``deployments.json`` the deployments, ``attested.json`` the commits the forge made
as its identity. A pull request's head must be a branch git knows (locally or on ``origin``, e.g. a local
bare remote). The forge is the server here: commits and merges it makes are real git commits, pushed to
``origin`` when there is one. Writes are atomic and serialised by a lock file, so concurrent commands never
lose each other's changes; like GitHub's, every write is idempotent at the seam.
"""

from __future__ import annotations

import fcntl
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlops.adapters.forge import (
    Comment,
    Deployment,
    ForgeError,
    Issue,
    PullRequest,
    Review,
    StatusState,
    short_description,
)
from mlops.adapters.scm import BOT, Identity, Scm, ScmError, open_scm
from mlops.core.atomic import write_text

FORGE_DIR = Path(".mlops") / "forge"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class LocalForge:
    """A forge kept as files under ``root/.mlops/forge`` for the repository at ``root``."""

    def __init__(self, root: Path, identity: str = BOT.name) -> None:
        self.root = root.resolve()
        self.dir = self.root / FORGE_DIR
        self.identity = identity

    def __repr__(self) -> str:
        return f"LocalForge({str(self.dir)!r})"

    def close(self) -> None:
        """Nothing to release: every call opens and closes its files."""

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

    def _file(self, kind: str, number: int) -> Path:
        return self.dir / kind / f"{int(number)}.json"

    def _load(self, kind: str, number: int) -> dict[str, Any]:
        data = self._read(self._file(kind, number))
        if not data:
            what = "pull request" if kind == "pulls" else "issue"
            raise ForgeError(f"local forge: no {what} #{number} in {self.dir / kind}; expected one opened with "
                             "the local forge (e.g. by the demo)")
        return data

    def _next_id(self, key: str) -> int:
        counters_file = self.dir / "counters.json"
        counters = self._read(counters_file)
        value = int(counters.get(key, 0)) + 1
        counters[key] = value
        self._write(counters_file, counters)
        return value

    def _all(self, kind: str) -> list[dict[str, Any]]:
        files = sorted((self.dir / kind).glob("*.json"), key=lambda p: int(p.stem) if p.stem.isdigit() else 0)
        return [self._read(p) for p in files]

    def _scm(self) -> Scm:
        return open_scm(self.root)

    def _tip(self, branch: str) -> str | None:
        scm = self._scm()
        return next((sha for c in (f"refs/remotes/origin/{branch}", f"refs/heads/{branch}") if (sha := scm.resolve(c))),
                    None)

    def _publish(self, scm: Scm, branch: str) -> None:
        if scm.remote_url("origin") is not None:
            scm.push(f"+refs/heads/{branch}:refs/heads/{branch}")
            scm.fetch(f"refs/heads/{branch}:refs/remotes/origin/{branch}")

    # -- reading (for people, tests and the demo) -----------------------------------------------

    def pulls(self) -> list[dict[str, Any]]:
        return self._all("pulls")

    def pull(self, pr: int) -> dict[str, Any]:
        return self._load("pulls", pr)

    def issues(self) -> list[dict[str, Any]]:
        return self._all("issues")

    def statuses(self, sha: str) -> dict[str, dict[str, Any]]:
        return self._read(self.dir / "statuses" / f"{sha}.json")

    def deployments(self, environment: str, limit: int = 20) -> list[Deployment]:
        items = list(self._read(self.dir / "deployments.json").get("items", []))
        mine = [d for d in reversed(items) if d.get("environment") == environment][:limit]
        return [Deployment(int(d["id"]), str(d["ref"]), environment, str(d.get("created", "")),
                           str(d["statuses"][-1]["state"]) if d.get("statuses") else "", str(d.get("description", "")))
                for d in mine]

    # -- what people do on a forge (the demo and tests play them) ---------------------------------

    def comment_as(self, pr: int, user: str, body: str) -> Comment:
        return self._add_comment(pr, body, user)

    def review_as(self, pr: int, user: str, state: str = "APPROVED") -> None:
        with self._locked():
            pull = self._load("pulls", pr)
            pull.setdefault("reviews", []).append({"user": user, "state": state, "commit": pull["head_sha"],
                                                  "submitted": _now()})
            self._write(self._file("pulls", pr), pull)

    # -- the Forge seam: comments, statuses, labels -----------------------------------------------

    def find_comment(self, pr: int, marker: str) -> Comment | None:
        for item in self._load("pulls", pr).get("comments", []):
            if item["body"].startswith(marker) and item.get("user") == self.identity:
                return Comment(item["id"], item["body"], f"{self._file('pulls', pr)}#comment-{item['id']}")
        return None

    def create_comment(self, pr: int, body: str) -> Comment:
        return self._add_comment(pr, body, self.identity)

    def _add_comment(self, pr: int, body: str, user: str) -> Comment:
        with self._locked():
            pull = self._load("pulls", pr)
            comment_id = self._next_id("comment")
            pull.setdefault("comments", []).append({"id": comment_id, "body": body, "user": user,
                                                   "created": _now()})
            self._write(self._file("pulls", pr), pull)
        return Comment(comment_id, body, f"{self._file('pulls', pr)}#comment-{comment_id}")

    def update_comment(self, comment_id: int, body: str) -> Comment:
        with self._locked():
            for path in (self.dir / "pulls").glob("*.json"):
                pull = self._read(path)
                for item in pull.get("comments", []):
                    if item["id"] == comment_id:
                        if item.get("user") != self.identity:
                            raise ForgeError(f"local forge: comment {comment_id} was written by "
                                             f"{item.get('user')!r}, not {self.identity!r}")
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
            pull = self._load("pulls", pr)
            current = list(pull.get("labels", []))
            pull["labels"] = current + [label for label in dict.fromkeys(labels) if label not in current]
            self._write(self._file("pulls", pr), pull)

    # -- pull requests ------------------------------------------------------------------------------

    def find_open_pr(self, head: str, base: str | None = None) -> PullRequest | None:
        head = head.split(":", 1)[-1]
        for pull in self.pulls():
            if pull.get("state") == "open" and pull.get("head") == head and base in (None, pull.get("base")):
                return self._pull(pull)
        return None

    def open_pr(self, head: str, base: str, title: str, body: str) -> PullRequest:
        with self._locked():
            existing = self.find_open_pr(head, base)
            if existing is not None:
                return existing
            sha = self._tip(head)
            if sha is None:
                raise ForgeError(f"local forge: branch {head!r} is unknown to git in {self.root} "
                                 "(neither a local branch nor on origin); push it first")
            number = self._next_id("pull")
            pull = {"number": number, "head": head, "base": base, "title": title, "body": body, "state": "open",
                    "head_sha": sha, "labels": [], "comments": [], "reviews": [], "created": _now(),
                    "author": self.identity}
            self._write(self._file("pulls", number), pull)
        return self._pull(pull)

    def get_pr(self, number: int) -> PullRequest:
        pull = self._load("pulls", number)
        if pull.get("state") == "open":  # the head follows its branch, as on a real forge
            pull["head_sha"] = self._tip(pull["head"]) or pull["head_sha"]
        return self._pull(pull)

    def update_pr(self, number: int, *, title: str | None = None, body: str | None = None,
                  state: str | None = None) -> PullRequest:
        with self._locked():
            pull = self._load("pulls", number)
            pull.update({k: v for k, v in {"title": title, "body": body, "state": state}.items() if v is not None})
            self._write(self._file("pulls", number), pull)
        return self._pull(pull)

    def merge_pr(self, number: int, sha: str, message: str) -> str:
        with self._locked():
            pull = self._load("pulls", number)
            if pull.get("state") != "open":
                raise ForgeError(f"local forge: pull request #{number} is {pull.get('state')}, not open")
            tip = self._tip(pull["head"])
            if tip != sha:
                raise ForgeError(f"local forge: pull request #{number}'s head is {str(tip)[:12]}, not {sha[:12]}; "
                                 "refusing to merge a head nobody evaluated")
            scm = self._scm()
            try:
                base_tip = self._tip(pull["base"]) or pull["base"]
                commits = [c.sha for c in scm.log(rev=f"{base_tip}..{sha}")]
                merged = scm.merge(sha, onto=pull["base"], message=message, author=Identity(self.identity, _email(
                    self.identity)))
                self._publish(scm, pull["base"])
            except ScmError as exc:
                raise ForgeError(f"local forge: cannot merge #{number}: {exc.problems[0].message}") from None
            pull.update(state="closed", merged=True, merge_sha=merged, head_sha=sha, merged_at=_now(), commits=commits)
            self._write(self._file("pulls", number), pull)
        return merged

    def reviews(self, number: int) -> list[Review]:
        return [Review(r["user"], r["state"], r.get("commit", ""), r.get("submitted", ""))
                for r in self._load("pulls", number).get("reviews", [])]

    def status(self, sha: str, context: str) -> tuple[str, str] | None:
        found = self.statuses(sha).get(context)
        return (str(found["state"]), str(found.get("description") or "")) if found else None

    def team_members(self, team: str) -> set[str] | None:
        """From ``.mlops/forge/teams.json`` (``{"@org/team": ["login", …]}``), which a person writes."""
        path = self.dir / "teams.json"
        members = json.loads(path.read_text("utf-8")).get(team) if path.is_file() else None
        return {str(m) for m in members} if isinstance(members, list) else None

    def prs_for_commit(self, sha: str) -> list[PullRequest]:
        return [self._pull(p) for p in self.pulls() if sha in (p.get("head_sha"), p.get("merge_sha"))
                or sha in p.get("commits", [])]

    def _pull(self, data: dict[str, Any]) -> PullRequest:
        return PullRequest(int(data["number"]), data["head"], data["base"], data.get("title", ""),
                           str(self._file("pulls", int(data["number"]))), data.get("state", "open"),
                           data.get("body", ""), data.get("head_sha", ""), bool(data.get("merged")),
                           data.get("merge_sha"), tuple(data.get("labels", [])), data.get("author", ""),
                           data.get("base_sha") or self._tip(data["base"]) or "")

    # -- commits the forge makes as its identity -------------------------------------------------------

    def commit_files(self, branch: str, files: Mapping[str, bytes | None], message: str, *, parent: str,
                     reset: bool = False) -> str:
        with self._locked():
            tip = self._tip(branch)
            if tip is not None and tip != parent and reset:
                tip = None  # start the branch again from parent
            if tip is not None and tip != parent:
                raise ForgeError(f"branch {branch!r} moved on to {tip[:12]} (expected {parent[:12]}); nothing "
                                 "committed — a newer run handles the newer commit")
            scm = open_scm(self._scm().top)  # paths are relative to the repository's top, as on GitHub
            try:
                start = tip or parent
                if scm.resolve(f"refs/heads/{branch}") not in (None, start):
                    scm.create_branch(branch, start, force=True)
                sha = scm.commit_files(branch, files, message, author=Identity(self.identity, _email(self.identity)),
                                       start=parent)
                self._publish(scm, branch)
            except ScmError as exc:
                raise ForgeError(f"local forge: cannot commit on {branch!r}: {exc.problems[0].message}") from None
            attested = self._read(self.dir / "attested.json")
            attested[sha] = self.identity
            self._write(self.dir / "attested.json", attested)
        return sha

    def is_bot_commit(self, sha: str) -> bool:
        return self._read(self.dir / "attested.json").get(sha) == self.identity

    def branch_tip(self, branch: str) -> str | None:
        return self._tip(branch)

    def read_file(self, ref: str, path: str) -> bytes | None:
        scm = open_scm(self._scm().top)
        sha = self._tip(ref) or scm.resolve(ref)
        return None if sha is None else scm.read(sha, path)

    # -- issues --------------------------------------------------------------------------------------

    def find_issue(self, marker: str, label: str) -> Issue | None:
        for item in self.issues():
            if item.get("state") == "open" and label in item.get("labels", []) and marker in item.get("body", "") \
                    and item.get("author") == self.identity:
                return self._issue(item)
        return None

    def open_issue(self, title: str, body: str, labels: Sequence[str]) -> Issue:
        with self._locked():
            number = self._next_id("issue")
            item = {"number": number, "title": title, "body": body, "state": "open", "labels": list(labels),
                    "author": self.identity, "created": _now()}
            self._write(self._file("issues", number), item)
        return self._issue(item)

    def update_issue(self, number: int, *, body: str | None = None, state: str | None = None) -> Issue:
        with self._locked():
            item = self._load("issues", number)
            item.update({k: v for k, v in {"body": body, "state": state}.items() if v is not None}, updated=_now())
            self._write(self._file("issues", number), item)
        return self._issue(item)

    def _issue(self, data: dict[str, Any]) -> Issue:
        return Issue(int(data["number"]), data.get("title", ""), data.get("body", ""), data.get("state", "open"),
                     tuple(data.get("labels", [])), str(self._file("issues", int(data["number"]))))

    # -- deployments -----------------------------------------------------------------------------------

    def create_deployment(self, ref: str, environment: str, description: str) -> int:
        with self._locked():
            data = self._read(self.dir / "deployments.json")
            items = list(data.get("items", []))
            number = len(items) + 1
            items.append({"id": number, "ref": ref, "environment": environment, "description": description,
                          "statuses": [], "created": _now()})
            self._write(self.dir / "deployments.json", {"items": items})
        return number

    def set_deployment_status(self, deployment: int, state: str, description: str,
                              url: str | None = None) -> None:
        with self._locked():
            data = self._read(self.dir / "deployments.json")
            items = list(data.get("items", []))
            if not 1 <= deployment <= len(items):
                raise ForgeError(f"local forge: no deployment {deployment}")
            items[deployment - 1]["statuses"].append({"state": state, "description": description, "url": url,
                                                      "created": _now()})
            self._write(self.dir / "deployments.json", {"items": items})


def _email(login: str) -> str:
    return f"{login.replace('[bot]', '')}@users.noreply.localhost"

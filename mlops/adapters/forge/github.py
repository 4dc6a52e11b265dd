"""The Forge seam over GitHub's REST API (httpx).

The token comes from the caller (``GITHUB_TOKEN``) and never appears in messages, logs or reprs.
``GITHUB_API_URL`` is respected (GitHub Enterprise Server: ``https://HOST/api/v3``). Retries follow
:mod:`mlops.adapters.forge.retry`; writes are idempotent at the level of the Forge seam.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

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
from mlops.adapters.forge.github_http import GitHubHttp

# operationId → (path template, method) of every REST operation used; the contract tests check each
# request against GitHub's OpenAPI description of exactly these (tests/fixtures/github/openapi-trimmed.json).
OPERATIONS: dict[str, tuple[str, str]] = {
    "issues/list-comments": ("/repos/{owner}/{repo}/issues/{issue_number}/comments", "get"),
    "issues/create-comment": ("/repos/{owner}/{repo}/issues/{issue_number}/comments", "post"),
    "issues/update-comment": ("/repos/{owner}/{repo}/issues/comments/{comment_id}", "patch"),
    "issues/add-labels": ("/repos/{owner}/{repo}/issues/{issue_number}/labels", "post"),
    "repos/create-commit-status": ("/repos/{owner}/{repo}/statuses/{sha}", "post"),
    "pulls/list": ("/repos/{owner}/{repo}/pulls", "get"),
    "pulls/create": ("/repos/{owner}/{repo}/pulls", "post"),
    "pulls/get": ("/repos/{owner}/{repo}/pulls/{pull_number}", "get"),
    "pulls/update": ("/repos/{owner}/{repo}/pulls/{pull_number}", "patch"),
    "pulls/merge": ("/repos/{owner}/{repo}/pulls/{pull_number}/merge", "put"),
    "pulls/list-reviews": ("/repos/{owner}/{repo}/pulls/{pull_number}/reviews", "get"),
    "repos/list-pull-requests-associated-with-commit": ("/repos/{owner}/{repo}/commits/{commit_sha}/pulls", "get"),
    "repos/get-commit": ("/repos/{owner}/{repo}/commits/{ref}", "get"),
    "git/get-ref": ("/repos/{owner}/{repo}/git/ref/{ref}", "get"),
    "git/create-ref": ("/repos/{owner}/{repo}/git/refs", "post"),
    "git/update-ref": ("/repos/{owner}/{repo}/git/refs/{ref}", "patch"),
    "git/get-commit": ("/repos/{owner}/{repo}/git/commits/{commit_sha}", "get"),
    "git/create-blob": ("/repos/{owner}/{repo}/git/blobs", "post"),
    "git/create-tree": ("/repos/{owner}/{repo}/git/trees", "post"),
    "git/create-commit": ("/repos/{owner}/{repo}/git/commits", "post"),
    "issues/create": ("/repos/{owner}/{repo}/issues", "post"),
    "issues/update": ("/repos/{owner}/{repo}/issues/{issue_number}", "patch"),
    "issues/list-for-repo": ("/repos/{owner}/{repo}/issues", "get"),
    "repos/create-deployment": ("/repos/{owner}/{repo}/deployments", "post"),
    "repos/create-deployment-status": ("/repos/{owner}/{repo}/deployments/{deployment_id}/statuses", "post"),
    "repos/list-deployments": ("/repos/{owner}/{repo}/deployments", "get"),
    "repos/list-deployment-statuses": ("/repos/{owner}/{repo}/deployments/{deployment_id}/statuses", "get"),
    "teams/list-members-in-org": ("/orgs/{org}/teams/{team_slug}/members", "get"),
    "repos/list-commit-statuses-for-ref": ("/repos/{owner}/{repo}/commits/{ref}/statuses", "get"),
}
_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")




class GitHubForge(GitHubHttp):
    # -- the Forge seam -------------------------------------------------------------------------

    def find_comment(self, pr: int, marker: str) -> Comment | None:
        """The first comment starting with ``marker`` that this identity wrote (anyone can paste a marker)."""
        for item in self._pages(self._path("issues", pr, "comments"), {}):
            if (item.get("body") or "").startswith(marker) and self._mine(item.get("user")):
                return _comment(item)
        return None

    def _mine(self, user: Any) -> bool:
        return isinstance(user, dict) and user.get("login") == self.identity

    def create_comment(self, pr: int, body: str) -> Comment:
        return _comment(self._request("POST", self._path("issues", pr, "comments"), json={"body": body}).json())

    def update_comment(self, comment_id: int, body: str) -> Comment:
        response = self._request("PATCH", self._path("issues", "comments", comment_id), json={"body": body})
        return _comment(response.json())

    def set_status(self, sha: str, state: StatusState, context: str, description: str,
                   target_url: str | None = None) -> None:
        if not _SHA.match(sha):
            raise ForgeError(f"{sha!r} is not a full commit SHA; expected 40 (or 64) lower-case hex digits")
        body: dict[str, Any] = {"state": state, "context": context, "description": short_description(description)}
        if target_url:
            body["target_url"] = target_url
        self._request("POST", self._path("statuses", sha), json=body)

    def add_labels(self, pr: int, labels: Sequence[str]) -> None:
        if labels:
            self._request("POST", self._path("issues", pr, "labels"), json={"labels": list(labels)})

    def find_open_pr(self, head: str, base: str | None = None) -> PullRequest | None:
        params: dict[str, Any] = {"state": "open", "head": head if ":" in head else f"{self.owner}:{head}"}
        if base:
            params["base"] = base
        for item in self._pages(self._path("pulls"), params):
            return _pull(item)
        return None

    def open_pr(self, head: str, base: str, title: str, body: str) -> PullRequest:
        existing = self.find_open_pr(head, base)
        if existing is not None:
            return existing
        try:
            response = self._request("POST", self._path("pulls"),
                                     json={"title": title, "head": head, "base": base, "body": body})
        except ForgeError:
            raced = self.find_open_pr(head, base)  # opened meanwhile by a concurrent run: that one is ours
            if raced is not None:
                return raced
            raise
        return _pull(response.json())


    def get_pr(self, number: int) -> PullRequest:
        return _pull(self._request("GET", self._path("pulls", number)).json())

    def update_pr(self, number: int, *, title: str | None = None, body: str | None = None,
                  state: str | None = None) -> PullRequest:
        changes = {k: v for k, v in {"title": title, "body": body, "state": state}.items() if v is not None}
        return _pull(self._request("PATCH", self._path("pulls", number), json=changes).json())

    def merge_pr(self, number: int, sha: str, message: str) -> str:
        title, _, rest = message.partition("\n")
        body = {"sha": sha, "merge_method": "merge", "commit_title": title, "commit_message": rest.strip()}
        return str(self._request("PUT", self._path("pulls", number, "merge"), json=body).json()["sha"])

    def reviews(self, number: int) -> list[Review]:
        return [Review((item.get("user") or {}).get("login", ""), str(item.get("state", "")),
                       str(item.get("commit_id") or ""), str(item.get("submitted_at") or ""))
                for item in self._pages(self._path("pulls", number, "reviews"), {})]

    def prs_for_commit(self, sha: str) -> list[PullRequest]:
        return [_pull(item) for item in self._pages(self._path("commits", sha, "pulls"), {})]

    def status(self, sha: str, context: str) -> tuple[str, str] | None:
        for item in self._pages(self._path("commits", sha, "statuses"), {}):  # newest first
            if item.get("context") == context:
                return str(item.get("state", "")), str(item.get("description") or "")
        return None

    def team_members(self, team: str) -> set[str] | None:
        org, sep, slug = team.removeprefix("@").partition("/")
        if not sep:
            return None
        url = f"/orgs/{quote(org, safe='')}/teams/{quote(slug, safe='')}/members"
        try:  # needs the App's organization permission "Members: read"; without it GitHub answers 403 or 404
            return {str((item or {}).get("login", "")) for item in self._pages(url, {})} - {""}
        except ForgeError as exc:
            if exc.status in (403, 404):
                return None
            raise

    # -- commits the bot makes: through the API, so GitHub signs them as the App ------------------------

    def branch_tip(self, branch: str) -> str | None:
        try:
            data = self._request("GET", self._path("git", "ref") + f"/heads/{_branch(branch)}").json()
        except ForgeError as exc:
            if exc.status == 404:
                return None
            raise
        return str(data["object"]["sha"])

    def commit_files(self, branch: str, files: Mapping[str, bytes | None], message: str, *, parent: str,
                     reset: bool = False) -> str:
        tip = self.branch_tip(branch)
        if tip is not None and tip != parent and not reset:
            raise ForgeError(f"branch {branch!r} moved on to {tip[:12]} (expected {parent[:12]}); nothing "
                             "committed — a newer run handles the newer commit")
        base_tree = self._request("GET", self._path("git", "commits", parent)).json()["tree"]["sha"]
        entries: list[dict[str, Any]] = []
        for path, data in sorted(files.items()):
            blob = None if data is None else self._request("POST", self._path("git", "blobs"), json={
                "content": base64.b64encode(data).decode(), "encoding": "base64"}).json()["sha"]
            entries.append({"path": path, "mode": "100644", "type": "blob", "sha": blob})
        tree = self._request("POST", self._path("git", "trees"),
                             json={"base_tree": base_tree, "tree": entries}).json()["sha"]
        sha = str(self._request("POST", self._path("git", "commits"),
                                json={"message": message, "tree": tree, "parents": [parent]}).json()["sha"])
        if tip is None:
            self._request("POST", self._path("git", "refs"), json={"ref": f"refs/heads/{branch}", "sha": sha})
        else:
            self._request("PATCH", self._path("git", "refs") + f"/heads/{_branch(branch)}",
                          json={"sha": sha, "force": reset})
        return sha

    def read_file(self, ref: str, path: str) -> bytes | None:
        url = self._path("contents") + "/" + "/".join(quote(part, safe="") for part in path.split("/"))
        try:
            data = self._request("GET", url, params={"ref": ref}).json()
        except ForgeError as exc:
            if exc.status == 404:
                return None
            raise
        if not isinstance(data, dict) or data.get("type") != "file":
            return None
        if data.get("encoding") == "base64" and data.get("content") is not None:
            return base64.b64decode(data["content"])
        raise ForgeError(f"{path} at {ref} is too large for the contents API (over 1 MB); expected a small file")

    def is_bot_commit(self, sha: str) -> bool:
        if not _SHA.match(sha):
            return False
        data = self._request("GET", self._path("commits", sha)).json()
        verified = ((data.get("commit") or {}).get("verification") or {}).get("verified") is True
        return verified and self._mine(data.get("author"))

    # -- issues (monitoring incidents) --------------------------------------------------------------------

    def find_issue(self, marker: str, label: str) -> Issue | None:
        for item in self._pages(self._path("issues"), {"state": "open", "labels": label}):
            if "pull_request" not in item and marker in (item.get("body") or "") and self._mine(item.get("user")):
                return _issue(item)
        return None

    def open_issue(self, title: str, body: str, labels: Sequence[str]) -> Issue:
        return _issue(self._request("POST", self._path("issues"),
                                    json={"title": title, "body": body, "labels": list(labels)}).json())

    def update_issue(self, number: int, *, body: str | None = None, state: str | None = None) -> Issue:
        changes = {k: v for k, v in {"body": body, "state": state}.items() if v is not None}
        return _issue(self._request("PATCH", self._path("issues", number), json=changes).json())

    # -- deployments -----------------------------------------------------------------------------------

    def create_deployment(self, ref: str, environment: str, description: str) -> int:
        body = {"ref": ref, "environment": environment, "description": description[:140],
                "auto_merge": False, "required_contexts": [], "transient_environment": False,
                "production_environment": environment == "prod"}
        return int(self._request("POST", self._path("deployments"), json=body).json()["id"])

    def set_deployment_status(self, deployment: int, state: str, description: str,
                              url: str | None = None) -> None:
        body: dict[str, Any] = {"state": state, "description": description[:140], "auto_inactive": True}
        if url:
            body["log_url"] = url
        self._request("POST", self._path("deployments", deployment, "statuses"), json=body)

    def deployments(self, environment: str, limit: int = 20) -> list[Deployment]:
        found = self._request("GET", self._path("deployments"),
                              params={"environment": environment, "per_page": max(1, min(limit, 100))}).json()
        out = []
        for item in found if isinstance(found, list) else []:
            statuses = self._request("GET", self._path("deployments", int(item["id"]), "statuses"),
                                     params={"per_page": 1}).json()  # newest first
            state = str(statuses[0].get("state", "")) if isinstance(statuses, list) and statuses else ""
            out.append(Deployment(int(item["id"]), str(item.get("sha") or item.get("ref") or ""), environment,
                                  str(item.get("created_at") or ""), state, str(item.get("description") or "")))
        return out


def _comment(item: Any) -> Comment:
    return Comment(int(item["id"]), item.get("body") or "", item.get("html_url") or "")


def _pull(item: Any) -> PullRequest:
    head, base = item.get("head") or {}, item.get("base") or {}
    head_repo, base_repo = (head.get("repo") or {}).get("full_name"), (base.get("repo") or {}).get("full_name")
    labels = tuple(str(x.get("name", "")) for x in item.get("labels") or [] if isinstance(x, dict))
    return PullRequest(int(item["number"]), head.get("ref", ""), (item.get("base") or {}).get("ref", ""),
                       item.get("title") or "", item.get("html_url") or "", item.get("state") or "open",
                       item.get("body") or "", head.get("sha") or "", bool(item.get("merged_at")),
                       item.get("merge_commit_sha"), labels, (item.get("user") or {}).get("login", ""),
                       base.get("sha") or "", bool(head_repo and base_repo and head_repo != base_repo))


def _branch(name: str) -> str:
    """A branch name for a ``refs/heads/…`` URL path: its slashes kept, everything else quoted."""
    return "/".join(quote(part, safe="") for part in name.split("/"))


def _issue(item: Any) -> Issue:
    return Issue(int(item["number"]), item.get("title") or "", item.get("body") or "", item.get("state") or "open",
                 tuple(str(x.get("name", "")) for x in item.get("labels") or [] if isinstance(x, dict)),
                 item.get("html_url") or "")

"""A small GitHub behind the contract server: pull requests, reviews, the git database, issues, deployments.

``install(server)`` registers handlers for the operations the delivery, monitoring and governance work uses, with
the state a real repository would keep: blobs, trees, commits and refs (a commit created through the API is
signed as the identity of the token, as GitHub signs an App's API commits), fast-forward-only ref updates,
merges that need the head the caller evaluated, issues and deployments. Every request and answer is still
checked against GitHub's OpenAPI description by the contract server.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from tests.helpers.github_contract import ContractServer, Refusal

Answer = tuple[int, dict[str, str], Any]
BOT = "mlops-app[bot]"


def _sha(*parts: object) -> str:
    return hashlib.sha1(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class Repo:
    commits: dict[str, dict[str, Any]] = field(default_factory=dict)  # sha → {tree, parents, message, author}
    trees: dict[str, dict[str, str]] = field(default_factory=dict)  # sha → path → blob sha
    blobs: dict[str, bytes] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)  # "heads/main" → sha
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)
    deployments: list[dict[str, Any]] = field(default_factory=list)
    teams: dict[str, list[str]] = field(default_factory=dict)  # "org/slug" → member logins
    identity: str = BOT

    def commit(self, files: dict[str, bytes], parents: list[str], message: str, author: str = "octocat") -> str:
        tree = {}
        for path, data in files.items():
            blob = _sha("blob", data.decode("latin-1"))
            self.blobs[blob] = data
            tree[path] = blob
        tree_sha = _sha("tree", tree)
        self.trees[tree_sha] = tree
        sha = _sha("commit", tree_sha, parents, message, author)
        self.commits[sha] = {"tree": tree_sha, "parents": parents, "message": message, "author": author,
                             "verified": author == self.identity}
        return sha

    def files(self, sha: str) -> dict[str, bytes]:
        return {p: self.blobs[b] for p, b in self.trees[self.commits[sha]["tree"]].items()}


def install(server: ContractServer, repo: Repo | None = None) -> Repo:
    """Give ``server`` the state and behaviour of one repository; returns the state (to seed and inspect)."""
    state = repo or Repo()
    server.handlers.update({op: _bind(fn, server, state) for op, fn in HANDLERS.items()})
    return state


def _bind(fn: Any, server: ContractServer, state: Repo) -> Any:
    return lambda params, query, body: fn(server, state, params, query, body)


def _user(server: ContractServer, login: str) -> dict[str, Any]:
    return {**server.contract.instance({"$ref": "#/components/schemas/simple-user"}), "login": login,
            "type": "Bot" if login.endswith("[bot]") else "User"}


def _pull(server: ContractServer, p: dict[str, Any]) -> dict[str, Any]:
    return {"number": p["number"], "state": p["state"], "title": p["title"], "body": p.get("body"),
            "user": _user(server, p.get("user", "octocat")), "merged_at": p.get("merged_at"),
            "merge_commit_sha": p.get("merge_sha"), "html_url": f"https://github.com/o/r/pull/{p['number']}",
            "labels": [{"name": n} for n in p.get("labels", [])],
            "head": {"ref": p["head"], "sha": p["head_sha"], "label": f"o:{p['head']}"},
            "base": {"ref": p["base"], "sha": p["base_sha"]}}


def get_ref(server: ContractServer, s: Repo, params: dict[str, str], query: dict[str, str], body: Any) -> Answer:
    ref = params["ref"]
    if ref not in s.refs:
        raise Refusal(404)
    return 200, {}, {"ref": f"refs/{ref}", "object": {"type": "commit", "sha": s.refs[ref], "url": "u"}}


def create_ref(server: ContractServer, s: Repo, params: dict[str, str], query: dict[str, str], body: Any) -> Answer:
    ref = body["ref"].removeprefix("refs/")
    if ref in s.refs:
        raise Refusal(422, "Reference already exists")
    s.refs[ref] = body["sha"]
    return 201, {}, {"ref": body["ref"], "object": {"type": "commit", "sha": body["sha"], "url": "u"}}


def update_ref(server: ContractServer, s: Repo, params: dict[str, str], query: dict[str, str], body: Any) -> Answer:
    ref, new = params["ref"], body["sha"]
    if ref not in s.refs:
        raise Refusal(422, "Reference does not exist")
    if not body.get("force") and s.refs[ref] not in s.commits.get(new, {}).get("parents", []):
        raise Refusal(422, "Update is not a fast forward")
    s.refs[ref] = new
    return 200, {}, {"ref": f"refs/{ref}", "object": {"type": "commit", "sha": new, "url": "u"}}


def get_git_commit(server: ContractServer, s: Repo, params: dict[str, str], query: dict[str, str],
                   body: Any) -> Answer:
    c = s.commits.get(params["commit_sha"])
    if c is None:
        raise Refusal(404)
    return 200, {}, {"sha": params["commit_sha"], "tree": {"sha": c["tree"], "url": "u"}, "message": c["message"],
                     "parents": [{"sha": p, "url": "u", "html_url": "u"} for p in c["parents"]]}


def create_blob(server: ContractServer, s: Repo, params: dict[str, str], query: dict[str, str], body: Any) -> Answer:
    import base64

    data = base64.b64decode(body["content"]) if body.get("encoding") == "base64" else body["content"].encode()
    sha = _sha("blob", data.decode("latin-1"))
    s.blobs[sha] = data
    return 201, {}, {"sha": sha, "url": "u"}


def create_tree(server: ContractServer, s: Repo, params: dict[str, str], query: dict[str, str], body: Any) -> Answer:
    tree = dict(s.trees.get(body.get("base_tree", ""), {}))
    for entry in body["tree"]:
        if entry.get("sha") is None:
            tree.pop(entry["path"], None)
        else:
            tree[entry["path"]] = entry["sha"]
    sha = _sha("tree", tree)
    s.trees[sha] = tree
    return 201, {}, {"sha": sha, "url": "u", "truncated": False,
                     "tree": [{"path": p, "mode": "100644", "type": "blob", "sha": b} for p, b in sorted(tree.items())]}


def create_commit(server: ContractServer, s: Repo, params: dict[str, str], query: dict[str, str],
                  body: Any) -> Answer:
    sha = _sha("commit", body["tree"], body["parents"], body["message"], s.identity)
    s.commits[sha] = {"tree": body["tree"], "parents": body["parents"], "message": body["message"],
                      "author": s.identity, "verified": "author" not in body and "committer" not in body}
    return 201, {}, {"sha": sha, "tree": {"sha": body["tree"], "url": "u"}, "message": body["message"],
                     "verification": {"verified": s.commits[sha]["verified"], "reason": "valid", "signature": None,
                                      "payload": None, "verified_at": None}}


def get_commit(server: ContractServer, s: Repo, params: dict[str, str], query: dict[str, str], body: Any) -> Answer:
    c = s.commits.get(params["ref"])
    if c is None:
        raise Refusal(404)
    author = _user(server, c["author"])
    return 200, {}, {"sha": params["ref"], "author": author, "committer": author,
                     "commit": {"message": c["message"], "verification": {
                         "verified": c["verified"], "reason": "valid" if c["verified"] else "unsigned",
                         "signature": None, "payload": None, "verified_at": None}}}


def get_pull(server: ContractServer, s: Repo, params: dict[str, str], query: dict[str, str], body: Any) -> Answer:
    pull = s.pulls.get(int(params["pull_number"]))
    if pull is None:
        raise Refusal(404)
    return 200, {}, _pull(server, pull)


def update_pull(server: ContractServer, s: Repo, params: dict[str, str], query: dict[str, str],
                body: Any) -> Answer:
    pull = s.pulls[int(params["pull_number"])]
    pull.update({k: v for k, v in body.items() if k in ("title", "body", "state")})
    return 200, {}, _pull(server, pull)


def merge_pull(server: ContractServer, s: Repo, params: dict[str, str], query: dict[str, str], body: Any) -> Answer:
    pull = s.pulls[int(params["pull_number"])]
    if pull["state"] != "open":
        raise Refusal(405, "Pull Request is not mergeable")
    if body.get("sha") and body["sha"] != pull["head_sha"]:
        raise Refusal(409, "Head branch was modified. Review and try the merge again.")
    base = s.refs[f"heads/{pull['base']}"]
    merged = s.commit({**s.files(base), **s.files(pull["head_sha"])}, [base, pull["head_sha"]],
                      body.get("commit_title") or "Merge", s.identity)
    s.refs[f"heads/{pull['base']}"] = merged
    pull.update(state="closed", merged_at="2026-12-03T00:00:00Z", merge_sha=merged)
    return 200, {}, {"sha": merged, "merged": True, "message": "Pull Request successfully merged"}


def list_reviews(server: ContractServer, s: Repo, params: dict[str, str], query: dict[str, str],
                 body: Any) -> Answer:
    pull = s.pulls[int(params["pull_number"])]
    return 200, {}, [{"id": i + 1, "user": _user(server, r["user"]), "state": r["state"], "commit_id": r["commit"],
                      "submitted_at": "2026-12-01T00:00:00Z", "body": "", "html_url": "u", "pull_request_url": "u",
                      "author_association": "MEMBER", "node_id": "n", "_links": {"html": {"href": "u"},
                                                                                 "pull_request": {"href": "u"}}}
                     for i, r in enumerate(pull.get("reviews", []))]


def pulls_of_commit(server: ContractServer, s: Repo, params: dict[str, str], query: dict[str, str],
                    body: Any) -> Answer:
    sha = params["commit_sha"]
    return 200, {}, [_pull(server, p) for p in s.pulls.values() if sha in (p["head_sha"], p.get("merge_sha"))]


def _issue(server: ContractServer, i: dict[str, Any]) -> dict[str, Any]:
    return {"number": i["number"], "title": i["title"], "body": i["body"], "state": i["state"],
            "user": _user(server, i["user"]), "labels": [{"name": n} for n in i["labels"]],
            "html_url": f"https://github.com/o/r/issues/{i['number']}"}


def create_issue(server: ContractServer, s: Repo, params: dict[str, str], query: dict[str, str], body: Any) -> Answer:
    number = max([*s.issues, *s.pulls], default=0) + 1
    s.issues[number] = {"number": number, "title": body["title"], "body": body.get("body", ""), "state": "open",
                        "labels": list(body.get("labels", [])), "user": s.identity}
    return 201, {}, _issue(server, s.issues[number])


def update_issue(server: ContractServer, s: Repo, params: dict[str, str], query: dict[str, str], body: Any) -> Answer:
    issue = s.issues[int(params["issue_number"])]
    issue.update({k: v for k, v in body.items() if k in ("body", "state")})
    return 200, {}, _issue(server, issue)


def list_issues(server: ContractServer, s: Repo, params: dict[str, str], query: dict[str, str], body: Any) -> Answer:
    wanted = set(filter(None, query.get("labels", "").split(",")))
    return 200, {}, [_issue(server, i) for i in s.issues.values()
                     if i["state"] == query.get("state", "open") and wanted <= set(i["labels"])]


def create_deployment(server: ContractServer, s: Repo, params: dict[str, str], query: dict[str, str],
                      body: Any) -> Answer:
    s.deployments.append({"id": len(s.deployments) + 1, **body, "statuses": []})
    d = s.deployments[-1]
    return 201, {}, {"id": d["id"], "ref": d["ref"], "environment": d["environment"], "sha": "0" * 40,
                     "task": "deploy", "description": d.get("description")}


def create_deployment_status(server: ContractServer, s: Repo, params: dict[str, str], query: dict[str, str],
                             body: Any) -> Answer:
    d = s.deployments[int(params["deployment_id"]) - 1]
    d["statuses"].append(body)
    return 201, {}, {"id": len(d["statuses"]), "state": body["state"], "description": body.get("description")}


def list_deployments(server: ContractServer, s: Repo, params: dict[str, str], query: dict[str, str],
                     body: Any) -> Answer:
    mine = [d for d in reversed(s.deployments) if d["environment"] == query.get("environment", d["environment"])]
    return 200, {}, [{"id": d["id"], "ref": d["ref"], "sha": d.get("sha", d["ref"]), "environment": d["environment"],
                      "task": "deploy", "description": d.get("description"),
                      "created_at": d.get("created_at", "2026-12-01T00:00:00Z")}
                     for d in mine[: int(query.get("per_page", 30))]]


def list_deployment_statuses(server: ContractServer, s: Repo, params: dict[str, str], query: dict[str, str],
                             body: Any) -> Answer:
    d = s.deployments[int(params["deployment_id"]) - 1]
    newest = list(reversed(d["statuses"]))[: int(query.get("per_page", 30))]
    return 200, {}, [{"id": i + 1, "state": st["state"], "description": st.get("description")}
                     for i, st in enumerate(newest)]


def team_members(server: ContractServer, s: Repo, params: dict[str, str], query: dict[str, str],
                 body: Any) -> Answer:
    members = s.teams.get(f"{params['org']}/{params['team_slug']}")
    if members is None:
        raise Refusal(404)
    return 200, {}, [_user(server, login) for login in members]


def get_content(server: ContractServer, s: Repo, params: dict[str, str], query: dict[str, str], body: Any) -> Answer:
    import base64
    ref = query.get("ref", "main")
    sha = s.refs.get(f"heads/{ref}", ref)
    if sha not in s.commits or params["path"] not in s.files(sha):
        raise Refusal(404)
    data = s.files(sha)[params["path"]]
    item = server.contract.instance({"$ref": "#/components/schemas/content-file"})
    return 200, {}, {**item, "type": "file", "encoding": "base64", "size": len(data), "path": params["path"],
                     "name": params["path"].rsplit("/", 1)[-1], "content": base64.b64encode(data).decode()}


HANDLERS = {
    "repos/get-content": get_content, "teams/list-members-in-org": team_members,
    "repos/list-deployments": list_deployments, "repos/list-deployment-statuses": list_deployment_statuses,
    "git/get-ref": get_ref, "git/create-ref": create_ref, "git/update-ref": update_ref,
    "git/get-commit": get_git_commit, "git/create-blob": create_blob, "git/create-tree": create_tree,
    "git/create-commit": create_commit, "repos/get-commit": get_commit, "pulls/get": get_pull,
    "pulls/update": update_pull, "pulls/merge": merge_pull, "pulls/list-reviews": list_reviews,
    "repos/list-pull-requests-associated-with-commit": pulls_of_commit, "issues/create": create_issue,
    "issues/update": update_issue, "issues/list-for-repo": list_issues, "repos/create-deployment": create_deployment,
    "repos/create-deployment-status": create_deployment_status,
}

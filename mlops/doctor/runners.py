"""Which workflows may reach the self-hosted GPU runners, and whether the runner groups hold to that.

The framework's GPU workflows are the repository's workflow files (on the default branch) with a job whose
``runs-on`` names ``self-hosted`` (or a runner group), plus the files that call those as reusable
workflows. A runner group is restricted enough when it runs only those files, and only as they are on
the default branch (``…/.github/workflows/train.yml@main``): a pull request's run has another ref.
Repository-level runners cannot be restricted at all, so any of them is reported.
"""

from __future__ import annotations

from typing import Any

import yaml

from mlops.adapters.forge import ForgeError
from mlops.doctor.findings import Finding, Status
from mlops.doctor.source import WORKFLOWS_DIR, Context, SettingsSource, dicts, text

ORG_ADMIN = ("needs a token with org admin read (fine-grained: organization 'Self-hosted runners: read'; "
             "classic: admin:org or read:org as an owner)")


def normalize(workflow: str) -> str:
    """``train.yml`` or ``.github/workflows/train.yml`` → ``.github/workflows/train.yml``."""
    name = workflow.strip().lstrip("./")
    return name if name.startswith(WORKFLOWS_DIR) else WORKFLOWS_DIR + name.rsplit("/", 1)[-1]


def _self_hosted(runs_on: Any) -> bool:
    if isinstance(runs_on, str):
        return runs_on.strip().lower() == "self-hosted"
    if isinstance(runs_on, list):
        return any(isinstance(x, str) and x.strip().lower() == "self-hosted" for x in runs_on)
    if isinstance(runs_on, dict):
        return "group" in runs_on or _self_hosted(runs_on.get("labels"))
    return False


def workflow_facts(source_text: str) -> tuple[bool, set[str]]:
    """(whether a job runs on self-hosted runners, the local reusable workflows its jobs call)."""
    try:
        data = yaml.safe_load(source_text)
    except yaml.YAMLError:
        return False, set()
    jobs = data.get("jobs") if isinstance(data, dict) else None
    jobs = [j for j in jobs.values() if isinstance(j, dict)] if isinstance(jobs, dict) else []
    calls = {normalize(j["uses"].split("@", 1)[0]) for j in jobs
             if isinstance(j.get("uses"), str) and j["uses"].startswith("./" + WORKFLOWS_DIR)}
    return any(_self_hosted(j.get("runs-on")) for j in jobs), calls


def gpu_workflows(source: SettingsSource, ctx: Context) -> set[str]:
    """The workflow files that may use the GPU runners: ``--workflows``, else found on the default branch."""
    if ctx.options.workflows is not None:
        return {normalize(w) for w in ctx.options.workflows}
    facts: dict[str, tuple[bool, set[str]]] = {}
    for workflow in dicts(source.workflows(), "workflows"):
        path = text(workflow.get("path"))
        if not path.startswith(WORKFLOWS_DIR) or workflow.get("state") == "deleted":
            continue
        try:
            facts[path] = workflow_facts(source.file_text(path, ctx.default_branch))
        except ForgeError as exc:
            if exc.status != 404:
                raise
    allowed = {path for path, (hosted, _) in facts.items() if hosted}
    while True:  # callers of an allowed reusable workflow run its jobs too
        callers = {path for path, (_, calls) in facts.items() if calls & allowed} - allowed
        if not callers:
            return allowed
        allowed |= callers


def _empty(source: SettingsSource, org: str, group: dict[str, Any]) -> bool:
    """Whether the group has no self-hosted runner (False when that cannot be read)."""
    group_id = group.get("id")
    if not isinstance(group_id, int | float) or isinstance(group_id, bool):
        return False
    try:
        return not source.group_runners(org, int(group_id))
    except ForgeError as exc:
        if exc.status not in (403, 404):
            raise
        return False


def runner_groups(source: SettingsSource, ctx: Context) -> Finding:
    reads = ["actions/list-repo-workflows", "repos/get-content", "actions/list-self-hosted-runners-for-repo"]
    title, branch = "GPU runner groups", ctx.default_branch
    allowed = gpu_workflows(source, ctx)
    shown = ", ".join(sorted(p.removeprefix(WORKFLOWS_DIR) for p in allowed)) or "none found"
    fix = (f"runner group → 'Selected workflows': only {ctx.repository}/{WORKFLOWS_DIR}<file>@{branch} for "
           f"{shown}; no repository-level self-hosted runners")
    problems: list[str] = []
    try:
        local = dicts(source.repo_runners(), "runners")
    except ForgeError as exc:
        if exc.status not in (403, 404):
            raise
        local = []
        reads.remove("actions/list-self-hosted-runners-for-repo")
    if local:
        names = ", ".join(sorted(text(r.get("name")) for r in local)[:5])
        problems.append(f"{len(local)} repository-level self-hosted runner(s) ({names}) accept every workflow "
                        "of the repository, pull request runs included")
    if ctx.org is None:
        if problems:
            return Finding("runner-groups", title, "missing", "; ".join(problems), fix, tuple(reads))
        return Finding("runner-groups", title, "unknown", "runner groups do not apply to a user-owned repository: "
                       "its self-hosted runners cannot be restricted to workflow files", "move the repository to "
                       "an organisation and its GPU runners into a runner group restricted to " + shown, tuple(reads))
    reads.append("actions/list-self-hosted-runner-groups-for-org")
    try:
        groups = dicts(source.runner_groups(ctx.org), "runner_groups")
    except ForgeError as exc:
        if exc.status not in (403, 404):
            raise
        status: Status = "missing" if problems else "unknown"
        return Finding("runner-groups", title, status, "; ".join([*problems, f"{ORG_ADMIN} (HTTP {exc.status})"]),
                       fix if problems else f"rerun with such a token, or check: {fix}", tuple(reads))
    restricted: list[str] = []
    for group in groups:
        name = text(group.get("name")) or str(group.get("id"))
        if group.get("restricted_to_workflows") is not True:
            if "actions/list-self-hosted-runners-in-group-for-org" not in reads:
                reads.append("actions/list-self-hosted-runners-in-group-for-org")
            if _empty(source, ctx.org, group):
                continue  # no self-hosted runner in it (the Default group often): nothing to reach
            public = " and public repositories" if group.get("allows_public_repositories") is True else ""
            problems.append(f"runner group {name!r} lets every workflow of the repository{public} use its runners")
            continue
        restricted.append(name)
        for entry in group.get("selected_workflows") or []:
            path_part, _, ref = text(entry).rpartition("@")
            owner, _, rest = path_part.partition("/")
            repo, _, path = rest.partition("/")
            if f"{owner}/{repo}".lower() != ctx.repository.lower():
                continue  # another repository's workflow: that repository's business
            if path not in allowed:
                problems.append(f"runner group {name!r} allows {path}, not one of the GPU workflows ({shown})")
            elif ref not in (branch, f"refs/heads/{branch}"):
                problems.append(f"runner group {name!r} allows {path}@{ref}: only {branch}'s definition may run")
    if problems:
        return Finding("runner-groups", title, "missing", "; ".join(problems), fix, tuple(reads))
    found = (f"runner groups {', '.join(repr(n) for n in restricted)} run only {shown} from {branch}"
             if restricted else "no organisation runner group is available to this repository")
    return Finding("runner-groups", title, "ok", found, reads=tuple(reads))

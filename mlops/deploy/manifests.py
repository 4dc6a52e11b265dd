"""What ``mlops render`` produces, for the deploy modes: per-model objects (push) and the manifests branch (pull)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mlops.adapters.forge import Forge
from mlops.adapters.scm import open_scm, repository_url
from mlops.core.repo import Repository
from mlops.render import render_repository
from mlops.render.templates import parse_yaml


def rendered_manifests(repo: Repository, env: str) -> dict[str, list[dict[str, Any]]]:
    """model → its objects, each list starting with the environment's namespace (server-side apply is idempotent)."""
    (rendered,) = render_repository(repo, [env], repo_url=repository_url(repo.root))
    namespace = [d for d in parse_yaml(rendered.files["namespace.yaml"].decode()) if isinstance(d, dict)] \
        if "namespace.yaml" in rendered.files else []
    by_model: dict[str, list[dict[str, Any]]] = {}
    for path, data in sorted(rendered.files.items()):
        model, sep, _ = path.partition("/")
        if not sep or model == "gitops":
            continue
        docs = [d for d in parse_yaml(data.decode()) if isinstance(d, dict)]
        by_model.setdefault(model, list(namespace)).extend(docs)
    return by_model


def publish_manifests(repo: Repository, env: str, forge: Forge, say: Callable[[str], None]) -> str:
    """Pull mode: commit the environment's rendered tree to the manifests branch (only when it changed)."""
    spec = repo.require_environment(env).spec
    gitops = spec.delivery.gitops
    scm = open_scm(repo.root)
    (rendered,) = render_repository(repo, [env], repo_url=repository_url(repo.root))
    directory = f"{gitops.path}/{env}"
    branch = gitops.revision
    tip = scm.resolve(f"refs/remotes/origin/{branch}") or scm.resolve(f"refs/heads/{branch}")
    parent = tip or scm.require("HEAD")
    files: dict[str, bytes | None] = {scm.repo_path(f"{directory}/{p}"): data for p, data in rendered.files.items()}
    for old in scm.files(parent, directory):
        files.setdefault(scm.repo_path(old), None)
    changed = {p: d for p, d in files.items() if scm.read(parent, p.removeprefix(scm.repo_path(""))) != d}
    if not changed:
        return f"{directory} on {branch} is up to date"
    sha = forge.commit_files(branch, changed, f"mlops: render {env} ({len(changed)} files)", parent=parent)
    say(f"committed {len(changed)} files of {directory} to {branch} ({sha[:12]}); "
        f"{gitops.engine} applies them")
    return f"{directory} committed to {branch} at {sha[:12]}"

"""Pull mode (``delivery.mode: pull``): the GitOps engine's own objects that sync an environment's manifests.

Argo CD (``gitops.engine: argocd``) gets an ``Application``; Flux (``flux``) a ``GitRepository`` and a
``Kustomization``. They sync ``<gitops.path>/<env>/`` of the repository at ``gitops.revision`` and are
written to ``<out>/<env>/gitops/`` (``argocd-application.yaml`` or ``flux-sync.yaml``), which the
environment's ``kustomization.yaml`` does not list: the engine syncs the environment, not itself. They are
applied once (``kubectl apply -f deploy/<env>/gitops/``) when an environment moves to pull mode.

The repository URL is ``gitops.repo_url``, else the ``repo_url`` the caller passes (``mlops render`` takes
it from the repository's remote); rendering cannot run git. Neither known is an error at the environment file.

Template variables (``argocd-application``, ``flux-sync``): ``environment``, ``namespace`` (the
environment's), ``kubernetes_version``, ``engine``, ``engine_namespace``, ``app_name``, ``labels``,
``repo_url``, ``revision``, ``path``, ``timeout``, ``flux_url`` (``repo_url`` in a form Flux accepts),
``flux_ref`` (``{branch}``, ``{commit}`` for a 40-hex revision, ``{name}`` for ``refs/…``).
"""

from __future__ import annotations

import re
from typing import Any

from mlops.core.errors import UserError
from mlops.core.repo import Loaded
from mlops.core.spec.environment import Environment
from mlops.render import promql

DIRECTORY = "gitops"
TEMPLATES = ("argocd-application", "flux-sync")
ENGINE_NAMESPACE = {"argocd": "argocd", "flux": "flux-system"}
_SCP = re.compile(r"^(?P<user>[\w.-]+)@(?P<host>[\w.-]+):(?P<path>(?!/).+)$")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")


def flux_url(url: str) -> str:
    """``git@host:org/repo.git`` (scp-like, which Flux refuses) → ``ssh://git@host/org/repo.git``."""
    match = _SCP.match(url)
    return f"ssh://{match['user']}@{match['host']}/{match['path']}" if match else url


def flux_ref(revision: str) -> dict[str, str]:
    if _COMMIT.match(revision):
        return {"commit": revision}
    if revision.startswith("refs/"):
        return {"name": revision}
    return {"branch": revision}


def repository_url(env: Loaded[Environment], repo_url: str | None) -> str:
    """The URL the engine pulls: ``gitops.repo_url``, else ``repo_url``, else a :class:`UserError` at the file."""
    url = env.spec.delivery.gitops.repo_url or repo_url
    if url:
        return url
    raise UserError(env.doc.problem(
        ("delivery", "gitops", "repo_url"),
        f"environment {env.spec.name!r} is delivered in pull mode, but the repository URL its GitOps engine "
        "pulls is unknown; expected delivery.gitops.repo_url, or `mlops render` run in a clone with a remote "
        "(render(..., repo_url=URL))"))


def context(env: Loaded[Environment], repo_url: str | None) -> dict[str, Any] | None:
    """The variables of the GitOps templates, or ``None`` when ``env`` is not in pull mode."""
    spec = env.spec
    if spec.delivery.mode != "pull":
        return None
    assert spec.kubernetes is not None
    gitops = spec.delivery.gitops
    url = repository_url(env, repo_url)
    return {
        "environment": spec.name,
        "namespace": spec.kubernetes.namespace,
        "kubernetes_version": spec.kubernetes.version,
        "engine": gitops.engine,
        "engine_namespace": gitops.namespace or ENGINE_NAMESPACE[gitops.engine],
        "app_name": spec.kubernetes.namespace,
        "labels": {"app.kubernetes.io/part-of": "mlops", "app.kubernetes.io/managed-by": "mlops",
                   "mlops.dev/environment": spec.name},
        "repo_url": url,
        "revision": gitops.revision,
        "path": f"{gitops.path}/{spec.name}",
        "timeout": promql.duration(spec.delivery.timeout_s),
        "flux_url": flux_url(url),
        "flux_ref": flux_ref(gitops.revision),
    }

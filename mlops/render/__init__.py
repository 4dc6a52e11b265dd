"""``mlops render``: Kubernetes manifests of each environment, from the models pinned in it.

``repo_url`` is the repository a pull-mode environment's GitOps engine pulls when the environment does not
name it (``delivery.gitops.repo_url``): the caller passes the clone's remote; unknown is an error.

Public API::

    render(root, envs=None, model=None, *, repo_url=None) -> list[RenderedEnvironment]  # load, check, render
    render_repository(repo, envs=None, model=None, *, repo_url=None) -> list[RenderedEnvironment]
    write(out, rendered, model=None) / compare(out, rendered, model=None, whole_tree=False) -> list[Problem]
    render_training_job(repo, model, version_label, image, *, env=None, nodes=None) -> list[dict]
    to_yaml(objects) -> str
"""

from __future__ import annotations

from mlops.render.output import DEFAULT_OUT, compare, summary, write
from mlops.render.render import RenderedEnvironment, kubernetes_environments, load_renderable, render, render_repository
from mlops.render.templates import to_yaml
from mlops.render.training import render_training_job

__all__ = [
    "DEFAULT_OUT",
    "RenderedEnvironment",
    "compare",
    "kubernetes_environments",
    "load_renderable",
    "render",
    "render_repository",
    "render_training_job",
    "summary",
    "to_yaml",
    "write",
]

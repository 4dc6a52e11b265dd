"""Pull mode: the Argo CD Application or Flux GitRepository + Kustomization that sync an environment."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops.core.errors import UserError
from mlops.render import RenderedEnvironment, render, write
from mlops.render.gitops import flux_ref, flux_url
from tests.unit.render.render_helpers import REPO_URL, set_delivery


def prod(root: Path, repo_url: str | None = REPO_URL) -> RenderedEnvironment:
    (rendered,) = render(root, ["prod"], repo_url=repo_url)
    return rendered


def docs(rendered: RenderedEnvironment, path: str) -> list[dict[str, Any]]:
    return list(yaml.safe_load_all(rendered.files[path]))


def test_argocd_application_syncs_the_environments_directory(pinned_repo: Path) -> None:
    set_delivery(pinned_repo, "prod", {"mode": "pull", "gitops": {"engine": "argocd", "path": "deploy"}})
    rendered = prod(pinned_repo)
    (app,) = docs(rendered, "gitops/argocd-application.yaml")
    assert (app["apiVersion"], app["kind"]) == ("argoproj.io/v1alpha1", "Application")
    assert app["metadata"]["namespace"] == "argocd" and app["metadata"]["name"] == "mlops-prod"
    spec = app["spec"]
    assert spec["project"] == "default"
    assert spec["source"]["repoURL"] == REPO_URL and spec["source"]["path"] == "deploy/prod"
    assert spec["source"]["targetRevision"] == rendered_revision(pinned_repo)
    assert spec["destination"] == {"server": "https://kubernetes.default.svc", "namespace": "mlops-prod"}
    assert spec["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}
    assert "finalizers" not in app["metadata"]  # deleting the Application leaves the environment running
    (kustomization,) = docs(rendered, "kustomization.yaml")
    assert not [r for r in kustomization["resources"] if r.startswith("gitops/")]


def rendered_revision(repo: Path) -> str:
    from mlops.core.repo import load_repository

    return load_repository(repo).environment("prod").delivery.gitops.revision


def test_flux_gets_a_git_repository_and_a_pruning_waiting_kustomization(pinned_repo: Path) -> None:
    set_delivery(pinned_repo, "prod", {"mode": "pull", "timeout_s": 900, "gitops": {
        "engine": "flux", "path": "clusters/main", "repo_url": "git@github.com:example/ml.git", "revision": "release",
        "namespace": "flux-apps"}})
    rendered = prod(pinned_repo, repo_url=None)  # the environment names its repository
    assert "gitops/argocd-application.yaml" not in rendered.files
    source, sync = docs(rendered, "gitops/flux-sync.yaml")
    assert (source["apiVersion"], source["kind"]) == ("source.toolkit.fluxcd.io/v1", "GitRepository")
    assert source["metadata"]["namespace"] == "flux-apps"
    assert source["spec"]["url"] == "ssh://git@github.com/example/ml.git"
    assert source["spec"]["ref"] == {"branch": "release"}
    assert (sync["apiVersion"], sync["kind"]) == ("kustomize.toolkit.fluxcd.io/v1", "Kustomization")
    assert sync["spec"]["sourceRef"] == {"kind": "GitRepository", "name": source["metadata"]["name"]}
    assert sync["spec"]["path"] == "./clusters/main/prod"
    assert sync["spec"]["prune"] is True and sync["spec"]["wait"] is True and sync["spec"]["timeout"] == "15m"


def test_the_environments_repo_url_beats_the_callers(pinned_repo: Path) -> None:
    set_delivery(pinned_repo, "prod", {"mode": "pull", "gitops": {"repo_url": "https://git.example/ml.git"}})
    (app,) = docs(prod(pinned_repo, repo_url="https://github.com/other/clone.git"), "gitops/argocd-application.yaml")
    assert app["spec"]["source"]["repoURL"] == "https://git.example/ml.git"


def test_an_unknown_repository_url_is_an_error_at_the_environment_file(pinned_repo: Path) -> None:
    set_delivery(pinned_repo, "prod", {"mode": "pull", "gitops": {"engine": "argocd", "path": "deploy"}})
    with pytest.raises(UserError) as info:
        prod(pinned_repo, repo_url=None)
    (problem,) = info.value.problems
    lines = (pinned_repo / "environments" / "prod.yaml").read_text("utf-8").splitlines()
    delivery = next(i for i, line in enumerate(lines) if line.lstrip().startswith("delivery:")) + 1
    assert (problem.path, problem.line) == ("environments/prod.yaml", delivery)
    assert "pull mode" in problem.message and "delivery.gitops.repo_url" in problem.message


def test_a_url_flux_cannot_pull_fails_the_schema_naming_the_field(pinned_repo: Path) -> None:
    set_delivery(pinned_repo, "prod", {"mode": "pull", "gitops": {"engine": "flux"}})
    with pytest.raises(UserError) as info:
        prod(pinned_repo, repo_url="/srv/git/ml.git")
    message = str(info.value.problems[0])
    assert message.startswith("mlops/render/templates/flux-sync.yaml.j2:1:1: GitRepository/mlops-prod (prod): "
                              "spec.url:")
    assert "@kubernetes-models/flux-cd" in message


def test_model_only_rendering_has_no_gitops_files(pinned_repo: Path) -> None:
    (rendered,) = render(pinned_repo, ["prod"], "digits-cnn", repo_url=REPO_URL)
    assert all(name.startswith("digits-cnn/") for name in rendered.files)


def test_flux_url_and_ref_forms() -> None:
    assert flux_url("git@github.com:org/repo.git") == "ssh://git@github.com/org/repo.git"
    assert flux_url("https://github.com/org/repo.git") == "https://github.com/org/repo.git"
    assert flux_url("ssh://git@host:2222/org/repo.git") == "ssh://git@host:2222/org/repo.git"
    assert flux_ref("main") == {"branch": "main"}
    assert flux_ref("a" * 40) == {"commit": "a" * 40}
    assert flux_ref("refs/tags/v1") == {"name": "refs/tags/v1"}


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kustomize_builds_the_environment_without_the_engines_objects(pinned_repo: Path, tmp_path: Path) -> None:
    write(tmp_path, [prod(pinned_repo)])
    built = subprocess.run(["kubectl", "kustomize", str(tmp_path / "prod")], capture_output=True, text=True,
                           check=False, timeout=120)
    assert built.returncode == 0, built.stderr
    kinds = [doc["kind"] for doc in yaml.safe_load_all(built.stdout)]
    assert "Application" not in kinds
    assert {"Rollout", "AnalysisTemplate", "ServiceMonitor", "PrometheusRule", "Deployment"} <= set(kinds)

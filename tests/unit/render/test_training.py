"""The Kubernetes training Job: an Indexed Job running torchrun, checked like the serving manifests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops.core.errors import UsageError, UserError
from mlops.render import load_renderable, render_training_job, to_yaml
from mlops.render.training import MAX_NAME, job_name
from tests.unit.render.render_helpers import write_template

IMAGE = "localhost:5000/mlops/train@sha256:" + "2" * 64


def _job(objects: list[dict[str, Any]]) -> dict[str, Any]:
    kinds = [o["kind"] for o in objects]
    assert kinds == ["Service", "Job"]
    return objects[1]


def _set_training(repo: Path, model: str, text: str) -> None:
    path = repo / "models" / model / "model.yaml"
    path.write_text(path.read_text().replace("  timeout_minutes: 30\n", f"  timeout_minutes: 30\n{text}"))


def test_cpu_job_defaults(example_repo: Path) -> None:
    repo = load_renderable(example_repo)
    objects = render_training_job(repo, "digits-cnn", "pr-7", IMAGE)
    svc, job = objects[0], _job(objects)
    name = "train-digits-cnn-pr-7"
    assert job["metadata"] == {**job["metadata"], "name": name, "namespace": "mlops-dev"}
    spec = job["spec"]
    assert (spec["completionMode"], spec["completions"], spec["parallelism"]) == ("Indexed", 1, 1)
    assert spec["activeDeadlineSeconds"] == 30 * 60
    assert spec["backoffLimit"] >= 0 and spec["ttlSecondsAfterFinished"] > 0
    pod = spec["template"]["spec"]
    assert pod["subdomain"] == svc["metadata"]["name"] == name
    assert svc["spec"]["clusterIP"] == "None"
    assert svc["spec"]["selector"].items() <= spec["template"]["metadata"]["labels"].items()
    (container,) = pod["containers"]
    assert container["image"] == IMAGE
    assert container["command"] == ["python", "-m", "mlops.train.pod", "--workdir=/scratch/repo", "--"]
    assert container["workingDir"] == "/workspace"  # the image's read-only repository, copied to the work volume
    assert {"name": "work", "mountPath": "/scratch"} in container["volumeMounts"]
    assert {"name": "work", "emptyDir": {"sizeLimit": "20Gi"}} in pod["volumes"]
    assert "envFrom" not in container
    assert container["args"][:5] == ["--nnodes=1", "--nproc-per-node=1", "--node-rank=$(NODE_RANK)",
                                     f"--master-addr={name}-0.{name}", "--master-port=29500"]
    assert container["args"][5:] == ["-m", "mlops", "train", "digits-cnn", "--backend", "local"]
    rank = next(e for e in container["env"] if e["name"] == "NODE_RANK")
    assert "job-completion-index" in rank["valueFrom"]["fieldRef"]["fieldPath"]
    assert "nvidia.com/gpu" not in container["resources"]["limits"]
    assert "tolerations" not in pod and "runtimeClassName" not in pod


def test_gpu_multi_node_job_in_prod(example_repo: Path) -> None:
    _set_training(example_repo, "digits-cnn", "  gpus: 4\n")
    repo = load_renderable(example_repo)
    job = _job(render_training_job(repo, "digits-cnn", "abc1234", IMAGE, env="prod", nodes=3))
    spec = job["spec"]
    assert (spec["completions"], spec["parallelism"]) == (3, 3)
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]
    assert "--nnodes=3" in container["args"] and "--nproc-per-node=4" in container["args"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "4"
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux", "nvidia.com/gpu.present": "true"}
    assert pod["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert pod["runtimeClassName"] == "nvidia"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert job["metadata"]["namespace"] == "mlops-prod"


def test_a_secret_becomes_the_containers_environment(example_repo: Path) -> None:
    job = _job(render_training_job(load_renderable(example_repo), "cancer-mlp", "v", IMAGE, secret="dvc-remote"))
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["envFrom"] == [{"secretRef": {"name": "dvc-remote"}}]
    with pytest.raises(UsageError, match="'Bad_Name' is not a Secret name"):
        render_training_job(load_renderable(example_repo), "cancer-mlp", "v", IMAGE, secret="Bad_Name")


def test_yaml_round_trip(example_repo: Path) -> None:
    objects = render_training_job(load_renderable(example_repo), "cancer-mlp", "v", IMAGE)
    assert list(yaml.safe_load_all(to_yaml(objects))) == objects


def test_job_names_are_dns_labels() -> None:
    assert job_name("digits-cnn", "PR_42/Head") == "train-digits-cnn-pr-42-head"
    long = job_name("a" * 63, "x")
    assert len(long) <= MAX_NAME and long != job_name("a" * 63, "y")


def test_bad_arguments(example_repo: Path) -> None:
    repo = load_renderable(example_repo)
    with pytest.raises(UserError, match="no model named"):
        render_training_job(repo, "nope", "v", IMAGE)
    with pytest.raises(UsageError, match="at least 1"):
        render_training_job(repo, "digits-cnn", "v", IMAGE, nodes=0)
    with pytest.raises(UserError, match="no environment named"):
        render_training_job(repo, "digits-cnn", "v", IMAGE, env="qa")


def test_override_template_is_validated(example_repo: Path) -> None:
    from mlops.render.templates import PACKAGE_DIR

    text = (PACKAGE_DIR / "training-job.yaml.j2").read_text().replace("restartPolicy: Never",
                                                                       "restartPolicy: Never\n      hostPID: true")
    write_template(example_repo, "training-job.yaml.j2", text)
    with pytest.raises(UserError) as info:
        render_training_job(load_renderable(example_repo), "digits-cnn", "v", IMAGE)
    assert "Job/train-digits-cnn-v (dev): spec.template.spec.hostPID must be false" in info.value.problems[0].message

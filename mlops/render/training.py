"""The Kubernetes training Job of a model (``training.backend: kubernetes``).

An Indexed Job (``completionMode: Indexed``, ``completions = parallelism = nodes``) whose pods each run
``torchrun --nnodes N --nproc-per-node G --node-rank $(NODE_RANK) --master-addr <job>-0.<job> …
-m mlops train MODEL --backend local``, where ``G`` is ``training.gpus`` (or 1 on CPU) and ``NODE_RANK`` is
the pod's completion index. A headless Service of the same name gives every pod a stable DNS name, so
node 0 is the rendezvous master. Every job gets the environment's node selector for the model; GPU jobs
(``training.gpus`` > 0) also get ``nvidia.com/gpu`` limits and the environment's GPU placement (GPU node
selector, tolerations, runtimeClassName). Each node requests 2 CPUs and 4 GiB of memory per process
(override the ``training-job.yaml.j2`` template for more). The Job is checked like the serving
manifests: strict schema of the environment's Kubernetes version and Pod Security "restricted".

The container's root filesystem is read-only, so torchrun is started by ``python -m mlops.train.pod``:
it copies the repository the image holds at ``/workspace`` (the working directory) into the ``work``
emptyDir (``/scratch``, at most 20 GiB), trains there and prints the version record and its DVC pointer
to the log for ``mlops train --backend kubernetes`` to collect. ``secret`` names a Secret whose keys become
the container's environment (``envFrom``): the DVC remote's credentials, never written in the manifest.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from mlops.core.errors import UsageError, UserError
from mlops.core.repo import Repository
from mlops.core.spec.runtime import UID
from mlops.render.objects import MANAGED_BY, PART_OF
from mlops.render.render import Renderer, kubernetes_environments
from mlops.render.settings import effective

TEMPLATE = "training-job"
MASTER_PORT = 29500
BACKOFF_LIMIT = 2
TTL_SECONDS = 86_400  # keep a finished Job (and its logs) for a day
CPU_PER_PROCESS = 2
MEMORY_GIB_PER_PROCESS = 4
MAX_NAME = 50  # `<job>-<index>` pod host names and the job-name label must stay within 63 characters
WORKSPACE = "/workspace"  # where the training image holds the repository (read-only)
WORK_MOUNT = "/scratch"  # the writable emptyDir the repository is copied into
WORK_SIZE_LIMIT = "20Gi"  # the copy, pulled data, DVC cache, checkpoints and the artifact
POD_COMMAND = ["python", "-m", "mlops.train.pod", f"--workdir={WORK_MOUNT}/repo", "--"]
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


def job_name(model: str, version_label: str) -> str:
    """``train-<model>-<label>`` as a DNS-1123 label; long names are cut and made unique with a hash."""
    raw = f"train-{model}-{version_label}".lower()
    name = re.sub(r"-+", "-", re.sub(r"[^a-z0-9-]", "-", raw)).strip("-")
    if len(name) > MAX_NAME:
        name = name[: MAX_NAME - 9].rstrip("-") + "-" + hashlib.sha256(raw.encode()).hexdigest()[:8]
    return name


def training_context(repo: Repository, model: str, version_label: str, image: str, env: str,
                     nodes: int, secret: str | None = None) -> dict[str, Any]:
    spec = repo.model(model)
    loaded = repo.environments[env]
    assert loaded.spec.kubernetes is not None
    gpus = spec.training.gpus
    nproc = gpus or 1
    name = job_name(model, version_label)
    placement = effective(spec, loaded)
    selector = {"mlops.dev/training-job": name}
    labels = {**selector, "app.kubernetes.io/name": model, "app.kubernetes.io/instance": name,
              "app.kubernetes.io/component": "training", "app.kubernetes.io/part-of": PART_OF,
              "app.kubernetes.io/managed-by": MANAGED_BY, "mlops.dev/environment": env}
    requests = {"cpu": str(CPU_PER_PROCESS * nproc), "memory": f"{MEMORY_GIB_PER_PROCESS * nproc}Gi"}
    limits: dict[str, Any] = {"memory": requests["memory"]}
    if gpus:
        limits["nvidia.com/gpu"] = str(gpus)
    args = [f"--nnodes={nodes}", f"--nproc-per-node={nproc}", "--node-rank=$(NODE_RANK)",
            f"--master-addr={name}-0.{name}", f"--master-port={MASTER_PORT}",
            "-m", "mlops", "train", model, "--backend", "local"]
    return {
        "name": name, "service": name, "model": model, "version_label": version_label, "environment": env,
        "namespace": loaded.spec.kubernetes.namespace, "kubernetes_version": loaded.spec.kubernetes.version,
        "labels": labels, "selector": selector, "annotations": {"mlops.dev/version-label": version_label},
        "image": image, "command": POD_COMMAND, "args": args, "workspace": WORKSPACE, "work_mount": WORK_MOUNT,
        "work_size_limit": WORK_SIZE_LIMIT, "secret": secret, "nodes": nodes, "nproc": nproc, "gpus": gpus, "uid": UID,
        "master_port": MASTER_PORT, "backoff_limit": BACKOFF_LIMIT, "ttl_seconds": TTL_SECONDS,
        "timeout_seconds": spec.training.timeout_minutes * 60,
        "resources": {"requests": requests, "limits": limits},
        "node_selector": dict(sorted({**placement.base_node_selector,
                                      **(placement.gpu_node_selector if gpus else {})}.items())),
        "tolerations": placement.tolerations if gpus else [],
        "runtime_class_name": placement.runtime_class_name if gpus else None,
    }


def render_training_job(repo: Repository, model: str, version_label: str, image: str, *,
                        env: str | None = None, nodes: int | None = None,
                        secret: str | None = None) -> list[dict[str, Any]]:
    """The headless Service and the Indexed Job that train ``model`` (checked; serialise with ``to_yaml``).

    ``env`` (default: the first kubernetes environment of the promotion order, normally dev) gives the
    namespace, the Kubernetes version for validation and the placement; ``nodes`` defaults to the spec's
    ``training.nodes`` when it has one, else 1; ``secret`` is the Secret whose keys the pods get as
    environment variables (optional).
    """
    repo.require_model(model)
    if secret is not None and (len(secret) > 253 or not _SUBDOMAIN.match(secret)):
        raise UsageError(f"secret {secret!r} is not a Secret name; expected a DNS subdomain like 'dvc-remote'")
    if env is None:
        candidates = kubernetes_environments(repo)
        if not candidates:
            raise UsageError("no environment targets kubernetes; a training Job needs one for its namespace")
        env = candidates[0]
    renderer = Renderer(repo)
    renderer.kubernetes_env(env)
    count = nodes if nodes is not None else int(getattr(repo.model(model).training, "nodes", 1))
    if count < 1:
        raise UsageError(f"nodes must be at least 1, got {count}")
    context = training_context(repo, model, version_label, image, env, count, secret)
    objects = renderer.objects(TEMPLATE, context, context["kubernetes_version"])
    if renderer.problems:
        raise UserError(renderer.problems)
    return objects

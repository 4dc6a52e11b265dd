"""The template variables of a model in an environment (everything the templates may use).

Variables of every model template (``configmap``, ``serviceaccount``, ``deployment``, ``service``, ``hpa``,
``pdb``, ``networkpolicy``): ``name``, ``model``, ``version``, ``environment``, ``namespace``,
``kubernetes_version``, ``labels``, ``selector``, ``annotations``, ``pod_annotations``, ``image``, ``args``,
``port``, ``uid``, ``config_map``, ``config_dir``, ``config_file``, ``config_json``, ``service_account``,
``replicas`` (``min``, ``max``, ``target_cpu_utilization``), ``resources`` (the container's requests and
limits), ``gpu``, ``node_selector``, ``tolerations``, ``runtime_class_name``, ``prediction_sink`` (where the
pods write their prediction log: the environment's ``monitoring.predictions`` URL, else the model's URL, else
the pod's ``/tmp``), ``egress_https`` (that sink is a URL), ``credentials_secret`` (the environment's
``monitoring.credentials_secret``: the container gets its keys as environment variables, ``envFrom``); and the
delivery variables of :mod:`mlops.render.delivery` (``scale_target``, ``rollout``, ``analysis``,
``monitoring``, ``metrics_path``, ``scrape_interval``, ``alerts``), which the templates ``rollout``,
``analysistemplate``, ``servicemonitor`` and ``prometheusrule`` also get.
The namespace template gets ``environment``, ``namespace`` and ``kubernetes_version``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import PurePosixPath
from typing import Any

from mlops.core.repo import Loaded, Repository
from mlops.core.spec.environment import Environment, EnvMonitoring, Pin
from mlops.core.spec.model import ModelSpec
from mlops.core.spec.runtime import (
    ARTIFACT_PATH,
    CONFIG_PATH,
    PORT,
    RECORD_PATH,
    UID,
    is_url,
    prediction_sink,
    runtime_config,
)
from mlops.render.delivery import delivery_context
from mlops.render.settings import Effective

PART_OF = "mlops"
MANAGED_BY = "mlops"
VERSION_ANNOTATION = "mlops.dev/version"
DIGEST_ANNOTATION = "mlops.dev/artifact-digest"
CHECKSUM_ANNOTATION = "mlops.dev/config-checksum"


def serve_args() -> list[str]:
    """The serving container's arguments (the image's ENTRYPOINT is ``mlops``)."""
    return ["serve", "--artifact", ARTIFACT_PATH, "--record", RECORD_PATH, "--config", CONFIG_PATH,
            "--host", "0.0.0.0", "--port", str(PORT)]


def image_ref(registry: str, model: str, pin: Pin) -> str:
    """``<registry>/<model>@<digest>`` when the pin names the image digest, else ``<registry>/<model>:<version>``."""
    base = f"{registry.rstrip('/')}/{model}"
    return f"{base}@{pin.image}" if pin.image else f"{base}:{pin.version}"


def artifact_digest(repo: Repository, model: str, version: str) -> str | None:
    record = repo.records.get(model, {}).get(version)
    return record.spec.artifact.digest if record is not None else None


def namespace_context(env: Environment) -> dict[str, Any]:
    assert env.kubernetes is not None
    return {"environment": env.name, "namespace": env.kubernetes.namespace,
            "kubernetes_version": env.kubernetes.version}


def config_json(spec: ModelSpec, version: str, env: str, digest: str | None,
                monitoring: EnvMonitoring | None = None) -> str:
    return json.dumps(runtime_config(spec, version, env, digest, monitoring), sort_keys=True, indent=2)


def checksum(data: Any) -> str:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def model_context(repo: Repository, env: Loaded[Environment], spec: ModelSpec, pin: Pin,
                  settings: Effective) -> dict[str, Any]:
    environment = env.spec
    assert environment.kubernetes is not None
    name = spec.name
    digest = artifact_digest(repo, name, pin.version)
    selector = {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": name}
    labels = {
        **selector,
        "app.kubernetes.io/version": pin.version,
        "app.kubernetes.io/component": "serving",
        "app.kubernetes.io/part-of": PART_OF,
        "app.kubernetes.io/managed-by": MANAGED_BY,
        "mlops.dev/environment": environment.name,
    }
    annotations = {VERSION_ANNOTATION: pin.version}
    if digest is not None:
        annotations[DIGEST_ANNOTATION] = digest
    config_path = PurePosixPath(CONFIG_PATH)
    sink = prediction_sink(spec, environment.name, environment.monitoring)
    return {
        "name": name,
        "model": name,
        "version": pin.version,
        "environment": environment.name,
        "namespace": environment.kubernetes.namespace,
        "kubernetes_version": environment.kubernetes.version,
        "labels": labels,
        "selector": selector,
        "annotations": annotations,
        "pod_annotations": dict(annotations),  # + the ConfigMap checksum, once it is rendered
        "image": image_ref(environment.registry, name, pin),
        "args": serve_args(),
        "port": PORT,
        "uid": UID,
        "config_map": f"{name}-serving",
        "config_dir": str(config_path.parent),
        "config_file": config_path.name,
        "config_json": config_json(spec, pin.version, environment.name, digest, environment.monitoring),
        "service_account": name,
        "replicas": settings.replicas.model_dump(),
        "resources": settings.k8s_resources(),
        "gpu": settings.gpu,
        "node_selector": settings.node_selector,
        "tolerations": settings.tolerations,
        "runtime_class_name": settings.runtime_class_name,
        "prediction_sink": sink,
        "egress_https": is_url(sink),
        "credentials_secret": environment.monitoring.credentials_secret,
        **delivery_context(environment, name, pin.version, parked=settings.replicas.min == 0),
    }

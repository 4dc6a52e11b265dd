"""The serving runtime's configuration: what ``mlops render`` puts in the ConfigMap (``serving.json``)
and what ``mlops serve --config`` reads. One schema, so the two cannot drift apart.

Container contract (the serving image, ``mlops build-image``):
  - the artifact is baked at ``/opt/mlops/artifact`` and its version record at ``/opt/mlops/record.yaml``;
  - the image runs ``mlops serve --artifact /opt/mlops/artifact --record /opt/mlops/record.yaml
    --config /etc/mlops/serving.json --host 0.0.0.0 --port 8080`` as a non-root user (UID 10001);
  - ``/tmp`` is the only writable path (an emptyDir in Kubernetes); a directory prediction log goes below it
    (and is lost with the pod): production data belongs in the environment's ``monitoring.predictions`` URL.

Where production data lives (one rule for rendering, images, ``mlops labels ingest`` and the monitor):
:func:`prediction_sink` (where a serving process writes), :func:`label_sink` (where labels of a model go) and
:func:`monitored_sinks` (where the monitor reads an environment's data back).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from mlops.core.spec.environment import Environment, EnvMonitoring
from mlops.core.spec.model import Batching, ModelSpec, PredictionLog, TensorSpec
from mlops.core.spec.types import DnsLabel, Strict, VersionId

CONFIG_PATH = "/etc/mlops/serving.json"
ARTIFACT_PATH = "/opt/mlops/artifact"
RECORD_PATH = "/opt/mlops/record.yaml"
PORT = 8080
UID = 10001
POD_PREDICTIONS = "/tmp/predictions"
# What a serving image needs to write to a sink of each fsspec protocol (besides fsspec itself).
PROTOCOL_PACKAGES = {"s3": ["s3fs"], "s3a": ["s3fs"], "gs": ["gcsfs"], "gcs": ["gcsfs"], "az": ["adlfs"],
                     "abfs": ["adlfs"], "abfss": ["adlfs"]}


class RuntimeConfig(Strict):
    model: DnsLabel
    version: VersionId
    environment: str = "local"
    input: TensorSpec
    batching: Batching = Batching()
    prediction_log: PredictionLog = PredictionLog()
    artifact_digest: str | None = Field(None, description="checked against the record before loading")


def is_url(location: str) -> bool:
    """An fsspec URL (``s3://…``, ``gs://…``, ``memory://…``), as opposed to a directory."""
    return "://" in location


def prediction_sink(spec: ModelSpec, environment: str, monitoring: EnvMonitoring | None = None, *,
                    here: bool = False) -> str:
    """Where serving ``spec`` in ``environment`` writes its prediction log.

    ``local`` (``mlops serve MODEL@VERSION`` on this machine, no environment): the model's
    ``serving.prediction_log.sink``. ``here`` (an environment delivered locally, ``mlops serve --env``): the
    environment's ``monitoring.predictions`` (a directory of the repository or a URL). Any other environment
    (a rendered or baked config): the environment's ``monitoring.predictions`` when it is an fsspec URL, else
    the model's sink when it is one, else ``/tmp/predictions/<model>`` in the pod.
    """
    own = spec.serving.prediction_log.sink
    if environment == "local":
        return own
    if here and monitoring is not None:
        return monitoring.predictions
    if monitoring is not None and is_url(monitoring.predictions):
        return monitoring.predictions
    return own if is_url(own) else f"{POD_PREDICTIONS}/{spec.name}"


def label_sink(labels: str, model: str) -> str:
    """Where the labels of ``model`` go under an environment's ``monitoring.labels`` (one folder per model)."""
    return f"{labels.rstrip('/')}/{model}"


def served_here(env: Environment) -> bool:
    """Whether ``env``'s models are served by processes on this machine (local delivery)."""
    return env.target == "local" or env.delivery.mode == "local"


def monitored_sinks(env: Environment, spec: ModelSpec) -> tuple[str | None, str]:
    """(predictions, labels) of ``spec`` in ``env`` as the monitor reads them; directories are relative to
    the repository. Predictions are ``None`` where nothing outside the pods can read them (a cluster
    environment without a URL sink: the log stays in the pod's ``/tmp``).
    """
    if served_here(env):  # `mlops serve MODEL@VERSION --env E` on this machine: the environment's sink
        predictions: str | None = prediction_sink(spec, env.name, env.monitoring, here=True)
    else:
        sink = prediction_sink(spec, env.name, env.monitoring)
        predictions = sink if is_url(sink) else None
    return predictions, label_sink(env.monitoring.labels, spec.name)


def sink_requirements(sink: str, fmt: str) -> list[str]:
    """The packages a serving process needs to write ``sink`` in ``fmt`` (beyond the ``serve`` extra)."""
    out = ["pyarrow"] if fmt == "parquet" else []
    if is_url(sink):
        out.append("fsspec")
        out.extend(PROTOCOL_PACKAGES.get(sink.split("://", 1)[0].lower(), []))
    return out


def runtime_config(spec: ModelSpec, version: str, environment: str, digest: str | None = None,
                   monitoring: EnvMonitoring | None = None, *, here: bool = False) -> dict[str, Any]:
    """The JSON-ready serving configuration of ``spec`` at ``version`` in ``environment`` (whose
    ``monitoring`` section, when given, says where production data lives: see :func:`prediction_sink`)."""
    log = spec.serving.prediction_log
    sink = prediction_sink(spec, environment, monitoring, here=here)
    if sink != log.sink:
        log = log.model_copy(update={"sink": sink})
    cfg = RuntimeConfig(model=spec.name, version=version, environment=environment, input=spec.serving.input,
                        batching=spec.serving.batching, prediction_log=log, artifact_digest=digest)
    return cfg.model_dump(mode="json")

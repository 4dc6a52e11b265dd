"""The serving runtime's configuration: what ``mlops render`` puts in the ConfigMap (``serving.json``)
and what ``mlops serve --config`` reads. One schema, so the two cannot drift apart.

Container contract (the serving image, ``mlops build-image``):
  - the artifact is baked at ``/opt/mlops/artifact`` and its version record at ``/opt/mlops/record.yaml``;
  - the image runs ``mlops serve --artifact /opt/mlops/artifact --record /opt/mlops/record.yaml
    --config /etc/mlops/serving.json --host 0.0.0.0 --port 8080`` as a non-root user (UID 10001);
  - ``/tmp`` is the only writable path (an emptyDir in Kubernetes); the prediction log defaults below it.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from mlops.core.spec.model import Batching, ModelSpec, PredictionLog, TensorSpec
from mlops.core.spec.types import DnsLabel, Strict, VersionId

CONFIG_PATH = "/etc/mlops/serving.json"
ARTIFACT_PATH = "/opt/mlops/artifact"
RECORD_PATH = "/opt/mlops/record.yaml"
PORT = 8080
UID = 10001


class RuntimeConfig(Strict):
    model: DnsLabel
    version: VersionId
    environment: str = "local"
    input: TensorSpec
    batching: Batching = Batching()
    prediction_log: PredictionLog = PredictionLog()
    artifact_digest: str | None = Field(None, description="checked against the record before loading")


def runtime_config(spec: ModelSpec, version: str, environment: str, digest: str | None = None) -> dict[str, Any]:
    """The JSON-ready serving configuration of ``spec`` at ``version`` in ``environment``."""
    log = spec.serving.prediction_log
    if environment != "local" and "://" not in log.sink:
        log = log.model_copy(update={"sink": f"/tmp/predictions/{spec.name}"})
    cfg = RuntimeConfig(model=spec.name, version=version, environment=environment, input=spec.serving.input,
                        batching=spec.serving.batching, prediction_log=log, artifact_digest=digest)
    return cfg.model_dump(mode="json")

"""Spec classes: defaults, helpers, the record digest and the runtime configuration."""

from __future__ import annotations

import copy
import datetime

import pytest
import yaml
from pydantic import ValidationError

from mlops.core.spec import Environment, ModelSpec, Pin, VersionRecord
from mlops.core.spec.model import CLASSIFICATION_METRICS, HIGHER_IS_BETTER, REGRESSION_METRICS, TensorSpec
from mlops.core.spec.record import record_digest
from mlops.core.spec.runtime import CONFIG_PATH, RuntimeConfig, runtime_config
from tests.unit.core.conftest import record_body

MINIMAL_MODEL = {
    "name": "m", "description": "d", "owners": ["alice"], "task": "regression",
    "data": {"path": "data/x.csv", "features": {"a": "float32", "b": "float32"}, "label": "y"},
    "evaluation": {"metrics": ["rmse"]},
    "serving": {"input": {"shape": [2]}},
}


def test_minimal_model_gets_documented_defaults() -> None:
    spec = ModelSpec.model_validate(MINIMAL_MODEL)
    assert spec.code == "model.py"
    assert spec.training.epochs == 10 and spec.training.device == "auto" and spec.training.backend == "local"
    assert spec.training.runner == ["self-hosted", "gpu"]
    assert spec.data.split.test == 0.2 and spec.data.normalize == "standard"
    assert spec.serving.batching.max_batch_size == 32 and spec.serving.resources.cpu == "500m"
    assert spec.serving.replicas.min == 1 and spec.serving.replicas.max == 3
    assert spec.monitoring.schedule == "17 */6 * * *" and spec.monitoring.performance is None
    assert spec.monitoring.actions.retrain and not spec.monitoring.actions.rollback
    assert spec.params == {}


def test_defaults_are_not_shared_between_instances() -> None:
    one = ModelSpec.model_validate(MINIMAL_MODEL)
    two = ModelSpec.model_validate(MINIMAL_MODEL)
    assert one.params is not two.params
    assert one.evaluation.gates is not two.evaluation.gates


def test_tensor_size() -> None:
    assert TensorSpec(shape=[8, 8]).size == 64
    assert TensorSpec(shape=[30]).size == 30


def test_metric_sets() -> None:
    assert CLASSIFICATION_METRICS.isdisjoint(REGRESSION_METRICS)
    assert {"accuracy", "macro_f1", "r2"} == HIGHER_IS_BETTER


def test_gpu_and_replicas_bounds() -> None:
    data = copy.deepcopy(MINIMAL_MODEL)
    data["serving"]["resources"] = {"gpu": 17}
    with pytest.raises(ValidationError):
        ModelSpec.model_validate(data)


ENV = {"name": "dev", "target": "local"}


def test_environment_pin_accepts_a_version_or_a_mapping() -> None:
    image = "sha256:" + "e" * 64
    env = Environment.model_validate({**ENV, "pins": {"a": "v1", "b": {"version": "v2", "image": image}}})
    assert env.pin("a") == Pin(version="v1")
    assert env.pin("b") == Pin(version="v2", image="sha256:" + "e" * 64)
    assert env.pin("c") is None


def test_environment_defaults() -> None:
    env = Environment.model_validate(ENV)
    assert env.local.port == 8080 and env.registry == "localhost:5000/mlops"
    assert env.defaults.gpu_node_selector == {"nvidia.com/gpu.present": "true"}
    assert env.policy.gates == [] and not env.policy.auto_merge_rollback
    assert env.promoted_from is None


def test_kubernetes_target_needs_its_section() -> None:
    with pytest.raises(ValidationError):
        Environment.model_validate({**ENV, "target": "kubernetes"})
    env = Environment.model_validate({**ENV, "target": "kubernetes", "kubernetes": {"namespace": "ns"}})
    assert env.kubernetes is not None and env.kubernetes.version == "1.31"


def test_record_digest_is_over_canonical_json_without_itself() -> None:
    body = record_body()
    assert body["record_digest"] == record_digest(body)
    reordered = dict(reversed(list(body.items())))
    assert record_digest(reordered) == body["record_digest"]
    assert record_digest({**body, "record_digest": "sha256:" + "0" * 64}) == body["record_digest"]
    assert record_digest({**body, "seed": 100}) != body["record_digest"]


def test_record_validates_and_its_digest_survives_a_yaml_round_trip() -> None:
    body = record_body()
    record = VersionRecord.model_validate(body)
    assert record.version == "20250101-aaaaaaaa"
    assert "record_digest" not in record.body()
    again = yaml.safe_load(yaml.safe_dump(body, sort_keys=True))
    assert record_digest(again) == body["record_digest"]


def test_record_digest_refuses_values_json_cannot_hold() -> None:
    with pytest.raises(TypeError):
        record_digest({**record_body(), "created": datetime.date(2025, 1, 1)})


def test_runtime_config_moves_local_prediction_logs_under_tmp() -> None:
    spec = ModelSpec.model_validate(MINIMAL_MODEL)
    local = runtime_config(spec, "v1", "local")
    assert local["prediction_log"]["sink"] == ".mlops/predictions"
    cluster = runtime_config(spec, "v1", "dev", digest="sha256:" + "f" * 64)
    assert cluster["prediction_log"]["sink"] == "/tmp/predictions/m"
    assert cluster["artifact_digest"] == "sha256:" + "f" * 64
    assert RuntimeConfig.model_validate(cluster).input.shape == [2]
    assert CONFIG_PATH.startswith("/etc/")

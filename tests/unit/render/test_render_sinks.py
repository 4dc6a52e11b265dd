"""Where rendered serving pods write production data: the environment's sinks and credentials Secret."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlops.core.spec.environment import Environment, EnvMonitoring
from mlops.core.spec.model import ModelSpec
from mlops.core.spec.runtime import (
    label_sink,
    monitored_sinks,
    prediction_sink,
    runtime_config,
    sink_requirements,
)
from tests.unit.render.render_helpers import PROD_MONITORING, set_monitoring
from tests.unit.render.test_render import obj, one

URL = "s3://bucket/predictions"


def _spec(sink: str = ".mlops/predictions") -> ModelSpec:
    return ModelSpec.model_validate({
        "name": "m", "description": "d", "owners": ["alice"], "task": "regression",
        "data": {"path": "data/x.csv", "features": {"a": "float32", "b": "float32"}, "label": "y"},
        "evaluation": {"metrics": ["rmse"]},
        "serving": {"input": {"shape": [2]}, "prediction_log": {"sink": sink}},
    })


def _env(target: str = "kubernetes", mode: str = "push", **monitoring: Any) -> Environment:
    return Environment.model_validate({"name": "prod", "target": target, "monitoring": monitoring,
                                       "delivery": {"mode": mode},
                                       **({"kubernetes": {"namespace": "p"}} if target == "kubernetes" else {})})


def test_the_sink_rule_local_cluster_and_environment_url() -> None:
    spec, s3 = _spec(), EnvMonitoring(predictions=URL)
    assert prediction_sink(spec, "local", s3) == ".mlops/predictions"  # mlops serve on this machine
    assert prediction_sink(spec, "prod") == "/tmp/predictions/m"  # lost with the pod
    assert prediction_sink(spec, "prod", EnvMonitoring()) == "/tmp/predictions/m"
    assert prediction_sink(spec, "prod", s3) == URL
    assert prediction_sink(_spec("gs://own/p"), "prod", EnvMonitoring()) == "gs://own/p"
    assert prediction_sink(_spec("gs://own/p"), "prod", s3) == URL  # the environment's URL wins
    assert runtime_config(spec, "v1", "prod", monitoring=s3)["prediction_log"]["sink"] == URL
    assert runtime_config(spec, "v1", "local", monitoring=s3)["prediction_log"]["sink"] == ".mlops/predictions"


def test_where_the_monitor_reads() -> None:
    spec = _spec()
    assert monitored_sinks(_env(predictions=URL, labels="s3://b/labels/"), spec) == (URL, "s3://b/labels/m")
    assert monitored_sinks(_env(), spec) == (None, ".mlops/labels/m")  # only the pods' /tmp: unreadable
    assert monitored_sinks(_env("local", "local"), spec) == (".mlops/predictions", ".mlops/labels/m")
    # delivered locally (`mlops serve --env`): the environment's own sink, a directory of the repository
    here = _env("kubernetes", "local", predictions=".mlops/predictions/dev")
    assert monitored_sinks(here, spec) == (".mlops/predictions/dev", ".mlops/labels/m")
    assert runtime_config(spec, "v1", "dev", monitoring=here.monitoring, here=True)["prediction_log"]["sink"] == \
        ".mlops/predictions/dev"
    assert label_sink(".mlops/labels", "m") == ".mlops/labels/m"


@pytest.mark.parametrize(("sink", "fmt", "needs"), [
    (".mlops/predictions", "jsonl", []), ("/tmp/p", "parquet", ["pyarrow"]),
    ("s3://b/p", "parquet", ["pyarrow", "fsspec", "s3fs"]), ("gs://b/p", "jsonl", ["fsspec", "gcsfs"]),
    ("memory://p", "jsonl", ["fsspec"])])
def test_what_a_serving_image_needs_for_a_sink(sink: str, fmt: str, needs: list[str]) -> None:
    assert sink_requirements(sink, fmt) == needs


def _rendered(repo: Path, model: str) -> tuple[dict[str, Any], dict[str, Any], list[int]]:
    prod = one(repo, "prod")
    config = json.loads(obj(prod, f"{model}/configmap.yaml")["data"]["serving.json"])
    container = obj(prod, f"{model}/deployment.yaml")["spec"]["template"]["spec"]["containers"][0]
    egress = [p["port"] for rule in obj(prod, f"{model}/networkpolicy.yaml")["spec"]["egress"] for p in rule["ports"]]
    return config, container, egress


def test_an_environment_url_sink_reaches_every_pod_with_its_secret_and_https_egress(pinned_repo: Path) -> None:
    set_monitoring(pinned_repo, "prod", PROD_MONITORING)
    for model in ("digits-cnn", "cancer-mlp"):
        config, container, egress = _rendered(pinned_repo, model)  # rendering validated them (strict, PSS)
        assert config["prediction_log"]["sink"] == PROD_MONITORING["predictions"]
        assert container["envFrom"] == [{"secretRef": {"name": "mlops-prod-sinks"}}]
        assert egress == [53, 53, 443]
        assert not any("KEY" in e["name"] or "SECRET" in e["name"] for e in container["env"])


def test_without_monitoring_the_log_stays_in_the_pod_and_nothing_leaves_it(pinned_repo: Path) -> None:
    set_monitoring(pinned_repo, "prod", {})
    config, container, egress = _rendered(pinned_repo, "digits-cnn")
    assert config["prediction_log"]["sink"] == "/tmp/predictions/digits-cnn"
    assert "envFrom" not in container and egress == [53, 53]


def test_a_secret_without_a_url_sink_opens_no_egress(pinned_repo: Path) -> None:
    set_monitoring(pinned_repo, "prod", {"credentials_secret": "creds"})
    config, container, egress = _rendered(pinned_repo, "digits-cnn")
    assert config["prediction_log"]["sink"] == "/tmp/predictions/digits-cnn"
    assert container["envFrom"] == [{"secretRef": {"name": "creds"}}] and egress == [53, 53]

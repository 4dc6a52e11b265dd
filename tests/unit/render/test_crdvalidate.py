"""Custom resources against the schemas shipped in mlops/render/crds (kubernetes-models npm packages), strictly."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops.render import crdvalidate, render
from mlops.render.kvalidate import SchemaError
from tests.unit.render.render_helpers import REPO_URL, set_delivery, write_template

ROLLOUT: dict[str, Any] = {
    "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": {"name": "m", "namespace": "n"},
    "spec": {"selector": {"matchLabels": {"a": "b"}},
             "workloadRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "m", "scaleDown": "progressively"},
             "strategy": {"canary": {"maxUnavailable": 0, "maxSurge": "25%",
                                     "steps": [{"setWeight": 10}, {"pause": {"duration": "1m"}}]}}},
}
SHIPPED = {
    ("argoproj.io/v1alpha1", "Rollout"), ("argoproj.io/v1alpha1", "AnalysisTemplate"),
    ("argoproj.io/v1alpha1", "Application"), ("source.toolkit.fluxcd.io/v1", "GitRepository"),
    ("kustomize.toolkit.fluxcd.io/v1", "Kustomization"), ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
}


def test_a_valid_rollout_passes() -> None:
    crdvalidate.validate(ROLLOUT)


def test_an_unknown_field_is_named_with_its_path() -> None:
    bad = copy.deepcopy(ROLLOUT)
    bad["spec"]["strategy"]["canary"]["steps"][0]["setWieght"] = 10
    with pytest.raises(SchemaError) as info:
        crdvalidate.validate(bad)
    assert info.value.field == "spec.strategy.canary.steps[0]"
    assert "'setWieght' was unexpected" in info.value.message and "unknown field" in info.value.message


def test_object_meta_is_strict_too() -> None:
    bad = copy.deepcopy(ROLLOUT)
    bad["metadata"]["labelz"] = {}
    with pytest.raises(SchemaError) as info:
        crdvalidate.validate(bad)
    assert info.value.field == "metadata"


def test_a_wrong_type_is_named() -> None:
    bad = copy.deepcopy(ROLLOUT)
    bad["spec"]["strategy"]["canary"]["steps"][0]["setWeight"] = "ten"
    with pytest.raises(SchemaError) as info:
        crdvalidate.validate(bad)
    assert info.value.field == "spec.strategy.canary.steps[0].setWeight"


def test_int_or_string_and_nullable_fields() -> None:
    ok = copy.deepcopy(ROLLOUT)
    ok["spec"]["strategy"]["canary"]["maxSurge"] = 1
    ok["spec"]["paused"] = None
    crdvalidate.validate(ok)


def test_required_fields_and_enums_hold() -> None:
    with pytest.raises(SchemaError, match="'spec' is a required property"):
        crdvalidate.validate({k: v for k, v in ROLLOUT.items() if k != "spec"})
    rule = {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule", "metadata": {"name": "r"},
            "spec": {"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "up == 0", "fro": "5m"}]}]}}
    with pytest.raises(SchemaError) as info:
        crdvalidate.validate(rule)
    assert info.value.field == "spec.groups[0].rules[0]"


def test_a_kind_without_a_shipped_schema() -> None:
    with pytest.raises(SchemaError, match=r"no schema shipped for kind Experiment in argoproj\.io/v1alpha1"):
        crdvalidate.validate({"apiVersion": "argoproj.io/v1alpha1", "kind": "Experiment", "metadata": {"name": "e"}})


def test_strict_closes_objects_with_properties_only() -> None:
    schema = {"type": "object", "properties": {
        "closed": {"type": "object", "properties": {"a": {"type": "string"}}},
        "map": {"type": "object", "additionalProperties": {"type": "string"}},
        "open": {"type": "object", "properties": {"a": {"type": "string"}},
                 "x-kubernetes-preserve-unknown-fields": True},
        "free": {"type": "object"},
        "maybe": {"type": "string", "nullable": True},
        "properties": {"type": "object", "properties": {"x": {"type": "integer"}}},
    }}
    out = crdvalidate.strict(schema)
    assert out["additionalProperties"] is False
    props = out["properties"]
    assert props["closed"]["additionalProperties"] is False
    assert props["map"]["additionalProperties"] == {"type": "string"}
    assert "additionalProperties" not in props["open"] and "additionalProperties" not in props["free"]
    assert props["maybe"] == {"type": ["string", "null"]}
    assert props["properties"]["additionalProperties"] is False  # a field named "properties" is a field


def test_the_shipped_kinds_are_exactly_the_kinds_rendered(pinned_repo: Path) -> None:
    """Both directions: every custom resource rendered has a schema; every schema shipped is rendered somewhere."""
    from mlops.render import kvalidate

    assert crdvalidate.kinds() == SHIPPED
    seen: set[tuple[str, str]] = set()
    for delivery in ({"mode": "pull", "gitops": {"engine": "argocd"}},
                     {"mode": "pull", "gitops": {"engine": "flux"}, "rollout": {"steps": [{"weight": 100}]}}):
        set_delivery(pinned_repo, "prod", delivery)
        (prod,) = render(pinned_repo, ["prod"], repo_url=REPO_URL)
        for name, data in prod.files.items():
            for doc in yaml.safe_load_all(data):
                if name == "kustomization.yaml":
                    continue  # kustomize's own file, not an object of the cluster
                if crdvalidate.known(doc["apiVersion"], doc["kind"]):
                    seen.add((doc["apiVersion"], doc["kind"]))
                else:
                    kvalidate.validate(doc, "1.31")  # a core object
    assert seen == SHIPPED


@pytest.mark.slow
def test_every_shipped_schema_is_a_valid_json_schema_with_its_source() -> None:
    import jsonschema

    for api_version, kind in sorted(crdvalidate.kinds()):
        jsonschema.Draft202012Validator.check_schema(crdvalidate.strict_schema(api_version, kind))
        source = json.loads(crdvalidate.schema_file(api_version, kind).read_text("utf-8"))["x-mlops-source"]
        assert source["package"].startswith("@kubernetes-models/") and source["integrity"].startswith("sha512-")
        assert source["refs"]["package"] == "@kubernetes-models/apimachinery"
        assert crdvalidate.source(api_version, kind) == f"{source['package']} {source['version']}"


def test_the_scale_down_patch_is_recorded() -> None:
    source = json.loads(crdvalidate.schema_file("argoproj.io/v1alpha1", "Rollout").read_text("utf-8"))
    (patch,) = source["x-mlops-source"]["patches"]
    assert patch.startswith("spec.workloadRef.scaleDown") and "@kubernetes-models/argo-rollouts@2.0.0" in patch


def test_an_override_with_an_unknown_field_fails_naming_object_field_and_schema(
        pinned_repo: Path, builtin_template: Callable[[str], str]) -> None:
    text = builtin_template("rollout.yaml.j2").replace("      maxUnavailable: 0", "      maxUnavailable: 0\n"
                                                                                 "      maxUnavailabel: 1")
    write_template(pinned_repo, "rollout.yaml.j2", text)
    with pytest.raises(Exception) as info:
        render(pinned_repo, ["prod"], repo_url=REPO_URL)
    messages = [str(p) for p in info.value.problems]  # type: ignore[attr-defined]
    assert len(messages) == 2  # one per model
    assert messages[0].startswith("environments/templates/rollout.yaml.j2:1:1: Rollout/cancer-mlp (prod): "
                                  "spec.strategy.canary: Additional properties are not allowed "
                                  "('maxUnavailabel' was unexpected)")
    assert "(schema of @kubernetes-models/argo-rollouts 0.3.2, strict)" in messages[0]

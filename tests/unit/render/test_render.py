"""Rendering an environment: the objects, their settings, and failures that name object and field."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops.core.errors import UsageError, UserError
from mlops.core.spec.runtime import ARTIFACT_PATH, CONFIG_PATH, RECORD_PATH
from mlops.render import RenderedEnvironment, load_renderable, render, render_repository
from tests.unit.render.render_helpers import (
    ARTIFACT,
    IMAGE,
    REPO_URL,
    V1,
    V2,
    set_pins,
    write_record,
    write_template,
)

MODEL_FILES = ["configmap.yaml", "deployment.yaml", "hpa.yaml", "networkpolicy.yaml", "pdb.yaml", "service.yaml",
               "serviceaccount.yaml"]


def one(root: Path, env: str) -> RenderedEnvironment:
    (rendered,) = render(root, [env], repo_url=REPO_URL)
    return rendered


def obj(rendered: RenderedEnvironment, path: str) -> dict[str, Any]:
    docs = list(yaml.safe_load_all(rendered.files[path]))
    assert len(docs) == 1
    return docs[0]  # type: ignore[no-any-return]


def pod(deployment: dict[str, Any]) -> dict[str, Any]:
    return deployment["spec"]["template"]["spec"]  # type: ignore[no-any-return]


def test_layout_per_environment(pinned_repo: Path) -> None:
    dev = one(pinned_repo, "dev")
    expected = {"kustomization.yaml", "namespace.yaml"} | {f"{m}/{f}" for m in ("cancer-mlp", "digits-cnn")
                                                           for f in MODEL_FILES}
    assert set(dev.files) == expected
    assert dev.pins == {"cancer-mlp": V1, "digits-cnn": V2}
    kustomization = obj(dev, "kustomization.yaml")
    assert kustomization["kind"] == "Kustomization"
    assert set(kustomization["resources"]) == expected - {"kustomization.yaml"}
    assert kustomization["resources"][0] == "namespace.yaml"


def test_namespace_enforces_restricted(pinned_repo: Path) -> None:
    ns = obj(one(pinned_repo, "prod"), "namespace.yaml")
    assert ns["metadata"]["name"] == "mlops-prod"
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_deployment_contract(pinned_repo: Path) -> None:
    dev = one(pinned_repo, "dev")
    dep = obj(dev, "digits-cnn/deployment.yaml")
    assert dep["metadata"]["namespace"] == "mlops-dev"
    labels = dep["metadata"]["labels"]
    assert {k: labels[f"app.kubernetes.io/{k}"] for k in ("name", "instance", "version", "component", "part-of",
                                                          "managed-by")} == {
        "name": "digits-cnn", "instance": "digits-cnn", "version": V2, "component": "serving", "part-of": "mlops",
        "managed-by": "mlops"}
    assert dep["metadata"]["annotations"]["mlops.dev/version"] == V2
    assert "mlops.dev/artifact-digest" not in dep["metadata"]["annotations"]  # no version record yet
    assert "replicas" not in dep["spec"]  # the HPA owns it
    spec = pod(dep)
    (container,) = spec["containers"]
    assert container["image"] == f"localhost:5000/mlops/digits-cnn:{V2}"
    assert container["args"] == ["serve", "--artifact", ARTIFACT_PATH, "--record", RECORD_PATH, "--config",
                                 CONFIG_PATH, "--host", "0.0.0.0", "--port", "8080"]
    assert container["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert container["readinessProbe"]["httpGet"] == {"path": "/v2/health/ready", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/v2/health/live", "port": "http"}
    sc = container["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False and sc["readOnlyRootFilesystem"] is True
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert spec["securityContext"]["runAsNonRoot"] is True and spec["securityContext"]["runAsUser"] == 10001
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    assert {"name": "tmp", "emptyDir": {}} in spec["volumes"]
    assert spec["serviceAccountName"] == "digits-cnn" and spec["automountServiceAccountToken"] is False
    assert "nodeSelector" not in spec and "tolerations" not in spec and "runtimeClassName" not in spec


def test_configmap_holds_the_runtime_config(pinned_repo: Path) -> None:
    from mlops.core.spec.runtime import runtime_config

    dev = one(pinned_repo, "dev")
    cm = obj(dev, "cancer-mlp/configmap.yaml")
    repo = load_renderable(pinned_repo)
    expected = json.dumps(runtime_config(repo.model("cancer-mlp"), V1, "dev", None), sort_keys=True, indent=2)
    assert cm["data"] == {"serving.json": expected}
    dep = obj(dev, "cancer-mlp/deployment.yaml")
    assert {"name": "config", "configMap": {"name": cm["metadata"]["name"]}} in pod(dep)["volumes"]


def test_config_change_changes_the_pod_template_checksum(pinned_repo: Path) -> None:
    before = obj(one(pinned_repo, "dev"), "cancer-mlp/deployment.yaml")
    spec = pinned_repo / "models" / "cancer-mlp" / "model.yaml"
    spec.write_text(spec.read_text().replace("max_latency_ms: 2", "max_latency_ms: 3"))
    after = obj(one(pinned_repo, "dev"), "cancer-mlp/deployment.yaml")
    key = "mlops.dev/config-checksum"
    assert before["spec"]["template"]["metadata"]["annotations"][key].startswith("sha256:")
    assert before["spec"]["template"]["metadata"]["annotations"][key] != \
        after["spec"]["template"]["metadata"]["annotations"][key]


def test_prod_gpu_override(pinned_repo: Path) -> None:
    prod = one(pinned_repo, "prod")
    spec = pod(obj(prod, "digits-cnn/deployment.yaml"))
    (container,) = spec["containers"]
    assert container["image"] == f"localhost:5000/mlops/digits-cnn@{IMAGE}"
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert container["resources"]["requests"] == {"cpu": "2", "memory": "2Gi"}
    assert spec["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert spec["runtimeClassName"] == "nvidia"
    assert spec["nodeSelector"] == {"kubernetes.io/os": "linux", "nvidia.com/gpu.present": "true"}
    cpu = pod(obj(prod, "cancer-mlp/deployment.yaml"))
    assert "nvidia.com/gpu" not in cpu["containers"][0]["resources"]["limits"]
    assert cpu["nodeSelector"] == {"kubernetes.io/os": "linux"}


def test_hpa_pdb_service_networkpolicy_serviceaccount(pinned_repo: Path) -> None:
    prod = one(pinned_repo, "prod")
    hpa = obj(prod, "cancer-mlp/hpa.yaml")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 6)
    assert hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 65
    assert obj(prod, "cancer-mlp/pdb.yaml")["apiVersion"] == "policy/v1"
    svc = obj(prod, "cancer-mlp/service.yaml")
    assert svc["spec"]["ports"] == [{"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"}]
    np = obj(prod, "cancer-mlp/networkpolicy.yaml")["spec"]
    assert np["policyTypes"] == ["Ingress", "Egress"]
    assert np["ingress"] == [{"ports": [{"protocol": "TCP", "port": 8080}]}]
    # DNS, and HTTPS because the example prod writes its prediction log to s3://
    assert [p["port"] for rule in np["egress"] for p in rule["ports"]] == [53, 53, 443]
    assert obj(prod, "cancer-mlp/serviceaccount.yaml")["automountServiceAccountToken"] is False


def test_remote_prediction_sink_opens_https_egress(pinned_repo: Path) -> None:
    spec = pinned_repo / "models" / "cancer-mlp" / "model.yaml"
    spec.write_text(spec.read_text().replace("prediction_log: {sample_rate: 1.0}",
                                             "prediction_log: {sample_rate: 1.0, sink: 's3://bucket/p'}"))
    np = obj(one(pinned_repo, "dev"), "cancer-mlp/networkpolicy.yaml")["spec"]
    assert [p["port"] for rule in np["egress"] for p in rule["ports"]] == [53, 53, 443]


def test_artifact_digest_annotation_from_the_version_record(pinned_repo: Path) -> None:
    write_record(pinned_repo, "cancer-mlp", V1)
    dev = one(pinned_repo, "dev")
    dep = obj(dev, "cancer-mlp/deployment.yaml")
    assert dep["metadata"]["annotations"]["mlops.dev/artifact-digest"] == ARTIFACT
    assert json.loads(obj(dev, "cancer-mlp/configmap.yaml")["data"]["serving.json"])["artifact_digest"] == ARTIFACT


def test_parked_model_has_no_hpa(pinned_repo: Path) -> None:
    path = pinned_repo / "environments" / "dev.yaml"
    path.write_text(path.read_text() + "overrides:\n  cancer-mlp:\n    replicas: {min: 0, max: 1}\n")
    dev = one(pinned_repo, "dev")
    assert "cancer-mlp/hpa.yaml" not in dev.files
    assert "cancer-mlp/hpa.yaml" not in obj(dev, "kustomization.yaml")["resources"]
    assert obj(dev, "cancer-mlp/deployment.yaml")["spec"]["replicas"] == 0


def test_no_pins_renders_namespace_and_kustomization(example_repo: Path) -> None:
    staging = one(example_repo, "staging")
    assert set(staging.files) == {"namespace.yaml", "kustomization.yaml"}
    assert staging.pins == {}


def test_render_is_byte_deterministic(pinned_repo: Path) -> None:
    first = [(r.name, r.files) for r in render(pinned_repo, repo_url=REPO_URL)]
    second = [(r.name, r.files) for r in render(pinned_repo, repo_url=REPO_URL)]
    assert first == second
    assert [name for name, _ in first] == ["dev", "staging", "prod"]


def test_model_filter(pinned_repo: Path) -> None:
    (dev,) = render(pinned_repo, ["dev"], "digits-cnn")
    assert set(dev.files) == {f"digits-cnn/{f}" for f in MODEL_FILES}
    assert [r.name for r in render(pinned_repo, None, "digits-cnn", repo_url=REPO_URL)] == ["dev", "prod"]
    with pytest.raises(UsageError, match="not pinned in environment 'staging'"):
        render(pinned_repo, ["staging"], "digits-cnn")
    with pytest.raises(UserError, match="no model named"):
        render(pinned_repo, ["dev"], "nope")
    with pytest.raises(UserError, match="no environment named 'qa'"):
        render(pinned_repo, ["qa"])


def test_local_environment_has_no_manifests(pinned_repo: Path) -> None:
    path = pinned_repo / "environments" / "staging.yaml"
    text = path.read_text().replace("target: kubernetes", "target: local")
    path.write_text(text)
    assert [r.name for r in render(pinned_repo, repo_url=REPO_URL)] == ["dev", "prod"]
    with pytest.raises(UsageError, match="targets 'local'"):
        render(pinned_repo, ["staging"])


def test_invalid_repository_is_a_user_error(pinned_repo: Path) -> None:
    set_pins(pinned_repo, "dev", {"no-such-model": V1})
    with pytest.raises(UserError) as info:
        render(pinned_repo, repo_url=REPO_URL)
    assert info.value.problems[0].path == "environments/dev.yaml"
    assert "no-such-model" in info.value.problems[0].message


# --- template overrides -----------------------------------------------------------------------------------

def test_override_is_used(pinned_repo: Path, builtin_template: Callable[[str], str]) -> None:
    write_template(pinned_repo, "pdb.yaml.j2", builtin_template("pdb.yaml.j2").replace("maxUnavailable: 1",
                                                                                         "minAvailable: 1"))
    pdb = obj(one(pinned_repo, "dev"), "digits-cnn/pdb.yaml")
    assert pdb["spec"] == {"minAvailable": 1, "selector": pdb["spec"]["selector"]}


def test_override_that_violates_pss_fails_naming_the_field(pinned_repo: Path,
                                                            builtin_template: Callable[[str], str]) -> None:
    text = builtin_template("deployment.yaml.j2").replace("allowPrivilegeEscalation: false",
                                                          "allowPrivilegeEscalation: true")
    write_template(pinned_repo, "deployment.yaml.j2", text)
    with pytest.raises(UserError) as info:
        render(pinned_repo, ["dev"])
    messages = [str(p) for p in info.value.problems]
    assert len(messages) == 2  # one per model
    assert messages[0].startswith("environments/templates/deployment.yaml.j2:1:1: Deployment/cancer-mlp (dev): "
                                  "spec.template.spec.containers[0].securityContext.allowPrivilegeEscalation "
                                  "must be false")
    assert "Pod Security Standards 'restricted'" in messages[0]


def test_override_with_unknown_field_fails_naming_it(pinned_repo: Path,
                                                     builtin_template: Callable[[str], str]) -> None:
    text = builtin_template("service.yaml.j2").replace("  type: ClusterIP", "  type: ClusterIP\n  colour: blue")
    write_template(pinned_repo, "service.yaml.j2", text)
    with pytest.raises(UserError) as info:
        render(pinned_repo, ["prod"], repo_url=REPO_URL)
    message = info.value.problems[0].message
    assert message.startswith("Service/cancer-mlp (prod): spec: Additional properties are not allowed "
                              "('colour' was unexpected)")
    assert "Kubernetes 1.31 schema, strict" in message


def test_unknown_override_name(pinned_repo: Path) -> None:
    write_template(pinned_repo, "deploymnet.yaml.j2", "")
    with pytest.raises(UserError) as info:
        render(pinned_repo, repo_url=REPO_URL)
    assert info.value.problems[0].path == "environments/templates/deploymnet.yaml.j2"
    assert "unknown template" in info.value.problems[0].message
    (pinned_repo / "environments" / "templates" / "deploymnet.yaml.j2").unlink()
    (pinned_repo / "environments" / "templates" / "README.md").write_text("notes\n")
    assert len(render(pinned_repo, repo_url=REPO_URL)) == 3


def test_template_syntax_error_has_its_line(pinned_repo: Path) -> None:
    write_template(pinned_repo, "pdb.yaml.j2", "apiVersion: policy/v1\nkind: {{ oops\n")
    with pytest.raises(UserError) as info:
        render(pinned_repo, ["dev"])
    problem = info.value.problems[0]
    assert (problem.path, problem.line) == ("environments/templates/pdb.yaml.j2", 2)
    assert "template syntax error" in problem.message


def test_undefined_variable_is_an_error(pinned_repo: Path, builtin_template: Callable[[str], str]) -> None:
    text = builtin_template("pdb.yaml.j2").replace("{{ name | tojson }}", "{{ nmae | tojson }}")
    write_template(pinned_repo, "pdb.yaml.j2", text)
    with pytest.raises(UserError) as info:
        render(pinned_repo, ["dev"])
    problem = info.value.problems[0]
    assert problem.path == "environments/templates/pdb.yaml.j2"
    assert problem.line == 5
    assert "'nmae' is undefined" in problem.message


def test_template_cannot_reach_python_internals(pinned_repo: Path) -> None:
    write_template(pinned_repo, "pdb.yaml.j2", "kind: {{ name.__class__.__mro__ }}\n")
    with pytest.raises(UserError, match="template error"):
        render(pinned_repo, ["dev"])


def test_template_output_must_be_valid_yaml(pinned_repo: Path) -> None:
    write_template(pinned_repo, "pdb.yaml.j2", "kind: [unclosed\n")
    with pytest.raises(UserError, match="not valid YAML"):
        render(pinned_repo, ["dev"])
    write_template(pinned_repo, "pdb.yaml.j2", "kind: a\nkind: b\n")
    with pytest.raises(UserError, match="duplicate key 'kind'"):
        render(pinned_repo, ["dev"])


def test_render_repository_reuses_a_loaded_repository(pinned_repo: Path) -> None:
    repo = load_renderable(pinned_repo)
    assert [r.files for r in render_repository(repo, ["prod"], repo_url=REPO_URL)] == \
        [r.files for r in render(pinned_repo, ["prod"], repo_url=REPO_URL)]

"""Progressive rollout (Argo Rollouts) and monitoring (Prometheus Operator) objects of an environment."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops.render import RenderedEnvironment, render
from mlops.render.delivery import window_s
from tests.unit.render.render_helpers import REPO_URL, V1, V2, set_delivery, write_template

ROLLOUT = {"steps": [{"weight": 10, "pause_s": 120}, {"weight": 50, "pause_s": 300}, {"weight": 100}],
           "max_error_ratio": 0.01, "max_p99_ms": 250}


def one(root: Path, env: str) -> RenderedEnvironment:
    (rendered,) = render(root, [env], repo_url=REPO_URL)
    return rendered


def obj(rendered: RenderedEnvironment, path: str) -> dict[str, Any]:
    (doc,) = yaml.safe_load_all(rendered.files[path])
    return doc


def test_prod_rolls_out_through_argo_rollouts_with_the_policy_steps(pinned_repo: Path) -> None:
    prod = one(pinned_repo, "prod")
    rollout = obj(prod, "digits-cnn/rollout.yaml")
    assert (rollout["apiVersion"], rollout["kind"]) == ("argoproj.io/v1alpha1", "Rollout")
    spec = rollout["spec"]
    assert spec["workloadRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "digits-cnn",
                                   "scaleDown": "progressively"}
    assert spec["selector"] == {"matchLabels": {"app.kubernetes.io/name": "digits-cnn",
                                                "app.kubernetes.io/instance": "digits-cnn"}}
    assert "replicas" not in spec  # the HPA owns it
    assert spec["progressDeadlineSeconds"] == 600 and spec["progressDeadlineAbort"] is True
    canary = spec["strategy"]["canary"]
    assert canary["steps"] == [{"setWeight": 10}, {"pause": {"duration": "2m"}}, {"setWeight": 50},
                               {"pause": {"duration": "5m"}}, {"setWeight": 100}]
    assert canary["maxUnavailable"] == 0
    assert canary["analysis"] == {"templates": [{"templateName": "digits-cnn-canary"}], "startingStep": 1,
                                  "args": [{"name": "version", "value": V1}]}
    # the Deployment stays the pod template's single source: no replicas for the controllers to fight over
    deployment = obj(prod, "digits-cnn/deployment.yaml")
    assert "replicas" not in deployment["spec"]
    assert deployment["spec"]["selector"] == spec["selector"]
    hpa = obj(prod, "digits-cnn/hpa.yaml")
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
                                             "name": "digits-cnn"}
    kustomization = obj(prod, "kustomization.yaml")["resources"]
    assert {"digits-cnn/rollout.yaml", "digits-cnn/analysistemplate.yaml", "digits-cnn/servicemonitor.yaml",
            "digits-cnn/prometheusrule.yaml"} <= set(kustomization)


def test_analysis_template_reads_the_new_versions_metrics(pinned_repo: Path) -> None:
    template = obj(one(pinned_repo, "prod"), "cancer-mlp/analysistemplate.yaml")
    assert template["metadata"]["name"] == "cancer-mlp-canary"
    spec = template["spec"]
    assert spec["args"] == [{"name": "namespace", "value": "mlops-prod"}, {"name": "model", "value": "cancer-mlp"},
                            {"name": "version"}]
    errors, latency = spec["metrics"]
    assert (errors["name"], latency["name"]) == ("error-ratio", "latency-p99-ms")
    for metric in (errors, latency):
        assert metric["interval"] == "1m" and metric["failureLimit"] == 1 and metric["inconclusiveLimit"] == 1
        prometheus = metric["provider"]["prometheus"]
        assert prometheus["address"] == "http://prometheus-operated.monitoring.svc:9090"
        assert 'version="{{args.version}}"' in prometheus["query"]
        assert 'namespace="{{args.namespace}}"' in prometheus["query"]
        assert "on (job, instance) mlops_model_info" in prometheus["query"]
    assert errors["successCondition"] == "len(result) > 0 && result[0] <= 0.01"
    assert errors["failureCondition"] == "len(result) > 0 && result[0] > 0.01"
    assert latency["successCondition"] == "len(result) > 0 && result[0] <= 250"
    assert 'code=~"5.."' in errors["provider"]["prometheus"]["query"]
    assert "histogram_quantile(0.99" in latency["provider"]["prometheus"]["query"]
    assert "[2m]" in errors["provider"]["prometheus"]["query"]  # max(60 s, 2 × interval)


def test_policy_limits_interval_and_prometheus_url_reach_the_analysis(pinned_repo: Path) -> None:
    set_delivery(pinned_repo, "prod", {"mode": "push", "rollout": {
        "steps": [{"weight": 100}], "max_error_ratio": 0.05, "max_p99_ms": 80.5, "interval_s": 90,
        "failure_limit": 3, "prometheus_url": "http://prometheus.obs.svc:9090"}})
    prod = one(pinned_repo, "prod")
    spec = obj(prod, "digits-cnn/analysistemplate.yaml")["spec"]
    errors, latency = spec["metrics"]
    assert errors["successCondition"].endswith("<= 0.05") and latency["successCondition"].endswith("<= 80.5")
    assert errors["interval"] == "90s" and errors["failureLimit"] == 3
    assert errors["provider"]["prometheus"]["address"] == "http://prometheus.obs.svc:9090"
    assert "[3m]" in errors["provider"]["prometheus"]["query"]
    canary = obj(prod, "digits-cnn/rollout.yaml")["spec"]["strategy"]["canary"]
    assert canary["steps"] == [{"setWeight": 100}]
    assert "startingStep" not in canary["analysis"]  # one step: the analysis runs from the start
    rules = obj(prod, "digits-cnn/prometheusrule.yaml")["spec"]["groups"][0]["rules"]
    by_name = {rule["alert"]: rule for rule in rules}
    assert by_name["MlopsErrorRatioHigh"]["expr"].endswith(") > 0.05")
    assert by_name["MlopsLatencyP99High"]["expr"].endswith(") > 80.5")
    assert "gitops/argocd-application.yaml" not in prod.files  # push mode: no GitOps engine


def test_analysis_window_is_at_least_a_minute() -> None:
    from mlops.core.spec.environment import Rollout

    assert window_s(Rollout.model_validate({"steps": [{"weight": 100}], "interval_s": 10})) == 60
    assert window_s(Rollout.model_validate({"steps": [{"weight": 100}], "interval_s": 300})) == 600


def test_push_without_rollout_monitors_but_scales_the_deployment(pinned_repo: Path) -> None:
    set_delivery(pinned_repo, "prod", {"mode": "push"})
    prod = one(pinned_repo, "prod")
    assert "digits-cnn/rollout.yaml" not in prod.files and "digits-cnn/analysistemplate.yaml" not in prod.files
    hpa = obj(prod, "digits-cnn/hpa.yaml")
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "digits-cnn"}
    rules = obj(prod, "digits-cnn/prometheusrule.yaml")["spec"]["groups"][0]["rules"]
    by_name = {rule["alert"]: rule for rule in rules}
    assert by_name["MlopsErrorRatioHigh"]["expr"].endswith(") > 0.01")  # the spec's default limits
    assert by_name["MlopsVersionMismatch"]["for"] == "10m"  # delivery.timeout_s, no pauses


def test_local_mode_environments_get_no_monitoring_objects(pinned_repo: Path) -> None:
    dev = one(pinned_repo, "dev")
    assert not [name for name in dev.files if name.endswith(("servicemonitor.yaml", "prometheusrule.yaml",
                                                             "rollout.yaml", "analysistemplate.yaml"))]
    assert not [name for name in dev.files if name.startswith("gitops/")]


def test_service_monitor_scrapes_the_service_metrics_port(pinned_repo: Path) -> None:
    prod = one(pinned_repo, "prod")
    monitor = obj(prod, "digits-cnn/servicemonitor.yaml")
    service = obj(prod, "digits-cnn/service.yaml")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["mlops-prod"]}
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == service["spec"]["ports"][0]["name"] == "http"
    assert endpoint["path"] == "/metrics"


def test_alerts_carry_what_on_call_needs(pinned_repo: Path) -> None:
    rule = obj(one(pinned_repo, "prod"), "digits-cnn/prometheusrule.yaml")
    (group,) = rule["spec"]["groups"]
    assert group["name"] == "mlops-digits-cnn"
    names = [r["alert"] for r in group["rules"]]
    assert names == ["MlopsErrorRatioHigh", "MlopsLatencyP99High", "MlopsNoTraffic", "MlopsVersionMismatch",
                     "MlopsPinnedVersionMissing"]
    for r in group["rules"]:
        assert r["labels"]["environment"] == "prod" and r["labels"]["model"] == "digits-cnn"
        assert r["labels"]["pinned_version"] == V1 and r["labels"]["severity"] in {"critical", "warning"}
        assert {"summary", "description", "runbook"} <= set(r["annotations"])
    by_name = {r["alert"]: r for r in group["rules"]}
    assert f'version!="{V1}"' in by_name["MlopsVersionMismatch"]["expr"]
    assert by_name["MlopsVersionMismatch"]["for"] == "17m"  # timeout 600 s + pauses 120 s + 300 s
    assert by_name["MlopsPinnedVersionMissing"]["expr"] == \
        f'absent(mlops_model_info{{namespace="mlops-prod",model="digits-cnn",version="{V1}"}})'
    assert "mlops rollback --env prod --model digits-cnn" in by_name["MlopsErrorRatioHigh"]["annotations"]["runbook"]


def test_a_new_pin_changes_the_analysed_version(pinned_repo: Path) -> None:
    from tests.unit.render.render_helpers import set_pins

    set_pins(pinned_repo, "prod", {"digits-cnn": V2})
    prod = one(pinned_repo, "prod")
    assert obj(prod, "digits-cnn/rollout.yaml")["spec"]["strategy"]["canary"]["analysis"]["args"] == [
        {"name": "version", "value": V2}]
    rules = obj(prod, "digits-cnn/prometheusrule.yaml")["spec"]["groups"][0]["rules"]
    assert {r["labels"]["pinned_version"] for r in rules} == {V2}


def test_parked_model_rolls_out_nothing_and_expects_no_server(pinned_repo: Path) -> None:
    path = pinned_repo / "environments" / "prod.yaml"
    parked = "overrides:\n  cancer-mlp:\n    replicas: {min: 0, max: 1}\n"
    path.write_text(path.read_text().replace("overrides:\n", parked))
    prod = one(pinned_repo, "prod")
    assert "cancer-mlp/hpa.yaml" not in prod.files
    assert obj(prod, "cancer-mlp/rollout.yaml")["spec"]["replicas"] == 0
    rules = obj(prod, "cancer-mlp/prometheusrule.yaml")["spec"]["groups"][0]["rules"]
    assert "MlopsPinnedVersionMissing" not in [r["alert"] for r in rules]


def test_an_empty_override_drops_the_monitoring_objects(pinned_repo: Path) -> None:
    """A cluster without the Prometheus Operator: override both templates with nothing."""
    write_template(pinned_repo, "servicemonitor.yaml.j2", "{# no Prometheus Operator in this cluster #}\n")
    write_template(pinned_repo, "prometheusrule.yaml.j2", "")
    prod = one(pinned_repo, "prod")
    assert not [name for name in prod.files if name.endswith(("servicemonitor.yaml", "prometheusrule.yaml"))]
    assert "digits-cnn/servicemonitor.yaml" not in obj(prod, "kustomization.yaml")["resources"]


def test_queries_and_rules_use_the_serving_runtimes_metric_names(pinned_repo: Path) -> None:
    """Every metric a query or rule reads is one the serving runtime exposes (mlops/serve/metrics.py)."""
    from prometheus_client.parser import text_string_to_metric_families

    from mlops.serve.metrics import Metrics

    metrics = Metrics("digits-cnn", V1, "sha256:" + "0" * 64, 32)
    metrics.count("infer", 200)
    metrics.count("infer", 500)
    metrics.latency.observe(0.01)
    exposed = {s.name for family in text_string_to_metric_families(metrics.render().decode())
               for s in family.samples}
    prod = one(pinned_repo, "prod")
    texts = [m["provider"]["prometheus"]["query"]
             for m in obj(prod, "digits-cnn/analysistemplate.yaml")["spec"]["metrics"]]
    texts += [r["expr"] for r in obj(prod, "digits-cnn/prometheusrule.yaml")["spec"]["groups"][0]["rules"]]
    used = {name for text in texts for name in re.findall(r"\b(mlops_[a-z_]+)\b", text)}
    assert used == {"mlops_serve_requests_total", "mlops_serve_request_seconds_bucket", "mlops_model_info"}
    assert used <= exposed
    assert {"route", "code"} <= set(next(s for f in text_string_to_metric_families(metrics.render().decode())
                                         for s in f.samples if s.name == "mlops_serve_requests_total").labels)


@pytest.mark.parametrize("mode", ["push", "pull"])
def test_every_delivered_environment_renders_valid_custom_resources(pinned_repo: Path, mode: str) -> None:
    set_delivery(pinned_repo, "prod", {"mode": mode, "rollout": ROLLOUT})
    prod = one(pinned_repo, "prod")  # render validates every object; this would raise
    kinds = {doc["kind"] for data in prod.files.values() for doc in yaml.safe_load_all(data)}
    expected = {"Rollout", "AnalysisTemplate", "ServiceMonitor", "PrometheusRule"} | (
        {"Application"} if mode == "pull" else set())
    assert expected <= kinds

"""The rendered PrometheusRule against Prometheus' own tool: ``promtool check rules`` and ``promtool test rules``.

Each alert gets input series shaped like what the ServiceMonitor scrapes from real servers (one target per
pod: ``job``, ``instance``, ``namespace``; the server's ``mlops_model_info``, request counter and latency
histogram) and the alerts Prometheus must (and must not) fire, with their labels and expanded annotations.
``promtool`` comes with Debian's ``prometheus`` package (``apt-get install prometheus``).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops.render import render
from mlops.serve.metrics import LATENCY_BUCKETS
from tests.unit.render.render_helpers import REPO_URL, V1, V2, pin_example

pytestmark = pytest.mark.skipif(shutil.which("promtool") is None,
                                reason="promtool is not installed (Debian: apt-get install prometheus)")

NS, MODEL, ENV = "mlops-prod", "digits-cnn", "prod"
STATIC = {"environment": ENV, "model": MODEL, "pinned_version": V1}


def rules(repo: Path, tmp_path: Path) -> Path:
    (prod,) = render(pin_example(repo), [ENV], repo_url=REPO_URL)
    (rule,) = yaml.safe_load_all(prod.files[f"{MODEL}/prometheusrule.yaml"])
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}, sort_keys=False))
    return path


def target(pod: str) -> dict[str, str]:
    return {"namespace": NS, "job": MODEL, "instance": f"{pod}:8080", "pod": pod}


def series(name: str, labels: dict[str, str], values: str) -> dict[str, str]:
    body = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return {"series": f"{name}{{{body}}}", "values": values}


def server(pod: str, version: str, *, ok_per_min: int = 0, errors_per_min: int = 0, latency_s: float = 0.006,
           requests: bool = True) -> list[dict[str, str]]:
    """The series of one serving pod over 40 minutes: model_info, requests by code, latency histogram."""
    out = [series("mlops_model_info", {**target(pod), "model": MODEL, "version": version,
                                       "digest": "sha256:" + "0" * 64}, "1x40")]
    if not requests:
        return out
    out.append(series("mlops_serve_requests_total", {**target(pod), "route": "infer", "code": "200"},
                      f"0+{ok_per_min}x40"))
    if errors_per_min:
        out.append(series("mlops_serve_requests_total", {**target(pod), "route": "infer", "code": "500"},
                          f"0+{errors_per_min}x40"))
    for bound in (*map(repr, LATENCY_BUCKETS), "+Inf"):
        count = ok_per_min if bound == "+Inf" or float(bound) >= latency_s else 0
        out.append(series("mlops_serve_request_seconds_bucket", {**target(pod), "le": bound}, f"0+{count}x40"))
    return out


def alert(labels: dict[str, str], summary: str, description: str, runbook: str) -> dict[str, Any]:
    severity = "critical" if runbook in (ERRORS_RUNBOOK, MISSING_RUNBOOK) else "warning"
    return {"exp_labels": {**labels, **STATIC, "severity": severity}, "exp_annotations": {
        "summary": summary, "description": description, "runbook": runbook}}


ROLLBACK = f"If the pinned version is at fault, roll back: mlops rollback --env {ENV} --model {MODEL}."
ERRORS_RUNBOOK = (f"Read the serving pods' logs (kubectl -n {NS} logs -l app.kubernetes.io/name={MODEL}) and "
                  f"mlops_serve_errors_total by reason. {ROLLBACK}")
LATENCY_RUNBOOK = ("Compare mlops_serve_stage_seconds by stage (queue: too few replicas or CPU; inference: the model) "
                   f"and the HPA's state (kubectl -n {NS} get hpa {MODEL}). {ROLLBACK}")
MISMATCH_RUNBOOK = (f"A rollout that stopped or aborted (kubectl argo rollouts -n {NS} get rollout {MODEL}), or a "
                    "change made outside git. Make git true: finish the rollout, or roll the pin back.")
NOTRAFFIC_RUNBOOK = (f"Check the callers, the Service's endpoints (kubectl -n {NS} get endpoints {MODEL}) and the "
                     "NetworkPolicy.")
MISSING_RUNBOOK = (f"Check the rollout and the pods (kubectl -n {NS} get pods -l app.kubernetes.io/name={MODEL}). "
                   f"{ROLLBACK}")
ALERTS = ["MlopsErrorRatioHigh", "MlopsLatencyP99High", "MlopsNoTraffic", "MlopsVersionMismatch",
          "MlopsPinnedVersionMissing"]


def checks(at: str, firing: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """An alert_rule_test entry for every alert at ``at``: those in ``firing`` with their alerts, the rest none."""
    return [{"eval_time": at, "alertname": name, "exp_alerts": firing.get(name, [])} for name in ALERTS]


def canary_with_a_bad_new_version() -> dict[str, Any]:
    """V1 (pinned) healthy on pod a; V2 on pod b answers 10 % 5xx and is slow (p99 in the 0.25–0.5 s bucket)."""
    bad = {"namespace": NS, "model": MODEL, "version": V2}
    errors = alert(bad, f"{MODEL} {V2} in {ENV}: 10% of inference requests fail (5xx)",
                   "More than 1 % of the inference requests of this version were answered 5xx over 5m.",
                   ERRORS_RUNBOOK)
    slow = alert(bad, f"{MODEL} {V2} in {ENV}: p99 latency 497.5 ms",
                 "The p99 latency of successful inference requests was above 250 ms over 5m.", LATENCY_RUNBOOK)
    mismatch = alert(bad, f"{MODEL} {V2} in {ENV}: serving a version that is not the pinned {V1}",
                     f"1 server(s) run {V2} while environments/{ENV}.yaml pins {V1}, for longer than a rollout "
                     "may take.", MISMATCH_RUNBOOK)
    return {
        "interval": "1m",
        "input_series": server("a", V1, ok_per_min=600) + server("b", V2, ok_per_min=540, errors_per_min=60,
                                                                  latency_s=0.4),
        "alert_rule_test": [
            *checks("4m", {}),  # error ratio pending (for: 5m); mismatch within the rollout's 17 minutes
            *checks("15m", {"MlopsErrorRatioHigh": [errors], "MlopsLatencyP99High": [slow]}),
            *checks("20m", {"MlopsErrorRatioHigh": [errors], "MlopsLatencyP99High": [slow],
                            "MlopsVersionMismatch": [mismatch]}),
        ],
    }


def healthy() -> dict[str, Any]:
    return {"interval": "1m", "input_series": server("a", V1, ok_per_min=600) + server("b", V1, ok_per_min=300),
            "alert_rule_test": checks("30m", {})}


def idle_servers() -> dict[str, Any]:
    """Pod a has served before (its counter stopped), pod b never got a request (no request series at all)."""
    idle = alert({"namespace": NS, "model": MODEL}, f"{MODEL} in {ENV} received no inference request for 10m",
                 f"Servers of {MODEL} are up but no inference request reached them over 10m.", NOTRAFFIC_RUNBOOK)
    return {"interval": "1m",
            "input_series": server("a", V1, ok_per_min=0) + server("b", V1, requests=False),
            "alert_rule_test": [*checks("5m", {}), *checks("25m", {"MlopsNoTraffic": [idle]})]}


def never_requested() -> dict[str, Any]:
    idle = alert({"namespace": NS, "model": MODEL}, f"{MODEL} in {ENV} received no inference request for 10m",
                 f"Servers of {MODEL} are up but no inference request reached them over 10m.", NOTRAFFIC_RUNBOOK)
    return {"interval": "1m", "input_series": server("b", V1, requests=False),
            "alert_rule_test": checks("25m", {"MlopsNoTraffic": [idle]})}


def pinned_version_gone() -> dict[str, Any]:
    """Only V2 serves (a rollback outside git, or an aborted rollout of the pin): mismatch and missing, after 17m."""
    missing = alert({"namespace": NS, "model": MODEL, "version": V1},
                    f"{MODEL} {V1} (pinned in {ENV}) is not serving",
                    f"No server reports the pinned version {V1} of {MODEL} (mlops_model_info).", MISSING_RUNBOOK)
    mismatch = alert({"namespace": NS, "model": MODEL, "version": V2},
                     f"{MODEL} {V2} in {ENV}: serving a version that is not the pinned {V1}",
                     f"2 server(s) run {V2} while environments/{ENV}.yaml pins {V1}, for longer than a rollout "
                     "may take.", MISMATCH_RUNBOOK)
    return {"interval": "1m", "input_series": server("a", V2, ok_per_min=600) + server("b", V2, ok_per_min=600),
            "alert_rule_test": [*checks("16m", {}),
                                *checks("18m", {"MlopsPinnedVersionMissing": [missing],
                                                "MlopsVersionMismatch": [mismatch]})]}


def test_promtool_checks_the_rendered_rules(example_repo: Path, tmp_path: Path) -> None:
    checked = subprocess.run(["promtool", "check", "rules", str(rules(example_repo, tmp_path))],
                             capture_output=True, text=True, timeout=60, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 5 rules found" in checked.stdout + checked.stderr


def test_promtool_unit_tests_every_alert(example_repo: Path, tmp_path: Path) -> None:
    path = rules(example_repo, tmp_path)
    tests = {"rule_files": [path.name], "evaluation_interval": "1m",
             "tests": [canary_with_a_bad_new_version(), healthy(), idle_servers(), never_requested(),
                       pinned_version_gone()]}
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(tests, sort_keys=False, width=10_000))
    result = subprocess.run(["promtool", "test", "rules", "tests.yaml"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr

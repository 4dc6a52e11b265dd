"""PromQL over the serving runtime's own metrics (``mlops/serve/metrics.py``): canary analysis and alerts.

The server exposes no model or version label on its request metrics: one process serves one version, and
says which in ``mlops_model_info{model,version,digest} = 1``. Every query therefore joins a target's
request metrics to its ``mlops_model_info`` on the labels that name one scrape target (``job``,
``instance``, which Prometheus sets on every target; the ServiceMonitor adds ``namespace``):

- analysis (one version): ``sum(rate(...) and on (job, instance) mlops_model_info{...,version="V"})``;
- alerts (every version): ``rate(...) * on (job, instance) group_left (model, version) mlops_model_info{...}``,
  so each alert carries the version it is about.

Errors are answers with a 5xx status on the inference route (``route="infer"``, ``code=~"5.."``): 500 when
the model fails, 503 while starting or draining. 4xx (a bad request, 429 when shedding load) is the caller's
or the load's, not the version's. Latency is ``mlops_serve_request_seconds`` (successful inference requests,
first byte in to last byte out), reported in milliseconds. The building blocks (selector, the join, error
ratio, latency quantiles) live in :mod:`mlops.core.promql`, shared with the monitor's Prometheus reader.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlops.core import promql as core
from mlops.core.promql import INFER, LATENCY_BUCKET, MODEL_INFO, REQUESTS, TARGET, duration, number, selector

__all__ = ["ALERT_WINDOW", "INFER", "LATENCY_BUCKET", "MODEL_INFO", "NO_TRAFFIC_WINDOW", "REQUESTS", "TARGET",
           "AlertScope", "alert_rules", "at_most", "duration", "error_ratio", "latency_p99_ms", "number", "selector"]

ALERT_WINDOW = "5m"
NO_TRAFFIC_WINDOW = "10m"


def error_ratio(namespace: str, model: str, version: str, window: str) -> str:
    """Share of the inference requests of ``version`` answered 5xx (0 without errors; none without requests)."""
    return core.error_ratio({"namespace": namespace}, model, version, window)


def latency_p99_ms(namespace: str, model: str, version: str, window: str) -> str:
    """p99 latency of the successful inference requests of ``version``, in milliseconds."""
    return core.latency_quantile_ms(0.99, {"namespace": namespace}, model, version, window)


def at_most(limit: float) -> tuple[str, str]:
    """Argo Rollouts (success, failure) conditions for ``result[0] <= limit``; no data or NaN is neither."""
    return (f"len(result) > 0 && result[0] <= {number(limit)}", f"len(result) > 0 && result[0] > {number(limit)}")


def _per_version(metric: str, window: str, namespace: str, model: str, by: str, **match: str) -> str:
    info = MODEL_INFO + selector(namespace=namespace, model=model)
    series = f"rate({metric}{selector(namespace=namespace, **match)}[{window}])"
    return f"sum by ({by}) (\n  {series}\n  * on ({TARGET}) group_left (model, version) {info}\n)"


@dataclass(frozen=True)
class AlertScope:
    """What the alerts of one model in one environment watch, and their limits."""

    environment: str
    namespace: str
    model: str
    pinned: str
    max_error_ratio: float
    max_p99_ms: float
    grace_s: int  # how long another version (or none) may serve before it is a mismatch: a rollout's budget
    parked: bool  # replicas.min == 0: no server is expected


def alert_rules(scope: AlertScope) -> list[dict[str, Any]]:
    """The alerting rules of one model: error ratio, p99 latency, no traffic, version mismatch (and missing)."""
    ns, model, env = scope.namespace, scope.model, scope.environment
    by = "namespace, model, version"
    errors = _per_version(REQUESTS, ALERT_WINDOW, ns, model, by, route=INFER, code="=~5..")
    total = _per_version(REQUESTS, ALERT_WINDOW, ns, model, by, route=INFER)
    buckets = _per_version(LATENCY_BUCKET, ALERT_WINDOW, ns, model, f"{by}, le")
    traffic = _per_version(REQUESTS, NO_TRAFFIC_WINDOW, ns, model, "namespace, model", route=INFER)
    running = f"count by (namespace, model) ({MODEL_INFO}{selector(namespace=ns, model=model)})"
    where = f"{{{{ $labels.model }}}} {{{{ $labels.version }}}} in {env}"
    rollback = f"If the pinned version is at fault, roll back: mlops rollback --env {env} --model {model}."
    rules = [
        _alert("MlopsErrorRatioHigh", f"(\n{errors}\n/\n{total}\n) > {number(scope.max_error_ratio)}", "5m",
               "critical", scope,
               f"{where}: {{{{ $value | humanizePercentage }}}} of inference requests fail (5xx)",
               f"More than {number(round(scope.max_error_ratio * 100, 6))} % of the inference requests of this "
               f"version were answered 5xx over {ALERT_WINDOW}.",
               f"Read the serving pods' logs (kubectl -n {ns} logs -l app.kubernetes.io/name={model}) and "
               f"mlops_serve_errors_total by reason. {rollback}"),
        _alert("MlopsLatencyP99High",
               f"1000 * histogram_quantile(0.99,\n{buckets}\n) > {number(scope.max_p99_ms)}", "10m", "warning",
               scope, f"{where}: p99 latency {{{{ $value | humanize }}}} ms",
               f"The p99 latency of successful inference requests was above {number(scope.max_p99_ms)} ms over "
               f"{ALERT_WINDOW}.",
               "Compare mlops_serve_stage_seconds by stage (queue: too few replicas or CPU; inference: the model) "
               f"and the HPA's state (kubectl -n {ns} get hpa {model}). {rollback}"),
        _alert("MlopsNoTraffic", f"(\n{traffic}\nor\n0 * {running}\n) == 0", "10m", "warning", scope,
               f"{model} in {env} received no inference request for {NO_TRAFFIC_WINDOW}",
               f"Servers of {model} are up but no inference request reached them over {NO_TRAFFIC_WINDOW}.",
               f"Check the callers, the Service's endpoints (kubectl -n {ns} get endpoints {model}) and the "
               "NetworkPolicy."),
        _alert("MlopsVersionMismatch",
               f"count by ({by}) ({MODEL_INFO}{selector(namespace=ns, model=model, version='!=' + scope.pinned)})",
               duration(scope.grace_s), "warning", scope,
               f"{where}: serving a version that is not the pinned {scope.pinned}",
               f"{{{{ $value }}}} server(s) run {{{{ $labels.version }}}} while environments/{env}.yaml pins "
               f"{scope.pinned}, for longer than a rollout may take.",
               f"A rollout that stopped or aborted (kubectl argo rollouts -n {ns} get rollout {model}), or a "
               "change made outside git. Make git true: finish the rollout, or roll the pin back."),
    ]
    if not scope.parked:
        rules.append(_alert(
            "MlopsPinnedVersionMissing",
            f"absent({MODEL_INFO}{selector(namespace=ns, model=model, version=scope.pinned)})",
            duration(scope.grace_s), "critical", scope,
            f"{model} {scope.pinned} (pinned in {env}) is not serving",
            f"No server reports the pinned version {scope.pinned} of {model} (mlops_model_info).",
            f"Check the rollout and the pods (kubectl -n {ns} get pods -l app.kubernetes.io/name={model}). "
            f"{rollback}"))
    return rules


def _alert(name: str, expr: str, for_: str, severity: str, scope: AlertScope, summary: str, description: str,
           runbook: str) -> dict[str, Any]:
    return {
        "alert": name,
        "expr": expr,
        "for": for_,
        "labels": {"severity": severity, "environment": scope.environment, "model": scope.model,
                   "pinned_version": scope.pinned},
        "annotations": {"summary": summary, "description": description, "runbook": runbook},
    }

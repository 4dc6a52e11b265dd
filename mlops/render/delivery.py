"""Template variables of a model's delivery: progressive rollout (Argo Rollouts) and monitoring (Prometheus Operator).

Added to every model's context (:mod:`mlops.render.objects`):

- ``scale_target``: what the HorizontalPodAutoscaler scales: the ``Rollout`` when the environment has
  ``delivery.rollout``, else the ``Deployment``;
- ``rollout`` (or ``None``): ``steps`` (Argo Rollouts canary steps: ``setWeight``, ``pause: {duration}``),
  ``starting_step`` (background analysis starts once the first weight is set), ``analysis_template``,
  ``args`` (the version under analysis), ``progress_deadline_s`` (``delivery.timeout_s``);
- ``analysis`` (or ``None``): the AnalysisTemplate's ``name``, ``args``, ``prometheus_url``, ``interval``,
  ``initial_delay``, ``failure_limit``, ``inconclusive_limit`` and ``metrics`` (``name``, ``query``,
  ``success``, ``failure``);
- ``monitoring``: whether the ServiceMonitor and PrometheusRule are rendered (delivery mode push or pull: the
  environment runs in a cluster mlops delivers to); ``metrics_path``, ``scrape_interval``;
  ``alerts`` (``group``, ``rules``).

Rollout semantics (Argo Rollouts, basic canary without a traffic router): each step sets the share of
replicas on the new version, then holds for ``pause_s`` while a background analysis measures the new version
every ``interval_s`` over a window of ``max(60 s, 2 × interval_s)``: its 5xx ratio and its p99 latency. A
measurement past a limit fails; ``failure_limit`` failures abort the rollout (back to the stable version).
A measurement without data (no request reached the new version) is inconclusive; more than
``failure_limit`` of those pause the rollout for a person to promote or abort it.
"""

from __future__ import annotations

from typing import Any

from mlops.core.spec.environment import Environment, Rollout
from mlops.render import promql

SCRAPE_INTERVAL = "15s"
METRICS_PATH = "/metrics"
ANALYSIS_SUFFIX = "-canary"


def limits(rollout: Rollout | None) -> tuple[float, float]:
    """(max error ratio, max p99 ms): the rollout's, or the defaults of the spec when the environment has none."""
    if rollout is not None:
        return rollout.max_error_ratio, rollout.max_p99_ms
    fields = Rollout.model_fields
    return float(fields["max_error_ratio"].default), float(fields["max_p99_ms"].default)


def window_s(rollout: Rollout) -> int:
    return max(60, 2 * rollout.interval_s)


def rollout_context(env: Environment, name: str, version: str) -> dict[str, Any] | None:
    rollout = env.delivery.rollout
    if rollout is None:
        return None
    steps: list[dict[str, Any]] = []
    for step in rollout.steps:
        steps.append({"setWeight": step.weight})
        if step.pause_s:
            steps.append({"pause": {"duration": promql.duration(step.pause_s)}})
    return {
        "steps": steps,
        "starting_step": 1 if len(steps) > 1 else None,
        "analysis_template": name + ANALYSIS_SUFFIX,
        "args": [{"name": "version", "value": version}],
        "progress_deadline_s": env.delivery.timeout_s,
    }


def analysis_context(env: Environment, name: str) -> dict[str, Any] | None:
    rollout = env.delivery.rollout
    if rollout is None:
        return None
    assert env.kubernetes is not None
    ns, model, version = "{{args.namespace}}", "{{args.model}}", "{{args.version}}"
    window = promql.duration(window_s(rollout))
    error_ok, error_bad = promql.at_most(rollout.max_error_ratio)
    p99_ok, p99_bad = promql.at_most(rollout.max_p99_ms)
    return {
        "name": name + ANALYSIS_SUFFIX,
        "args": [{"name": "namespace", "value": env.kubernetes.namespace}, {"name": "model", "value": name},
                 {"name": "version"}],
        "prometheus_url": rollout.prometheus_url,
        "interval": promql.duration(rollout.interval_s),
        "initial_delay": promql.duration(min(window_s(rollout), 60)),
        "failure_limit": rollout.failure_limit,
        "inconclusive_limit": rollout.failure_limit,
        "metrics": [
            {"name": "error-ratio", "query": promql.error_ratio(ns, model, version, window),
             "success": error_ok, "failure": error_bad},
            {"name": "latency-p99-ms", "query": promql.latency_p99_ms(ns, model, version, window),
             "success": p99_ok, "failure": p99_bad},
        ],
    }


def grace_s(env: Environment) -> int:
    """How long a version other than the pin may serve: a rollout's deadline plus every pause of its steps."""
    pauses = sum(step.pause_s for step in env.delivery.rollout.steps) if env.delivery.rollout else 0
    return env.delivery.timeout_s + pauses


def delivery_context(env: Environment, name: str, version: str, parked: bool) -> dict[str, Any]:
    """The delivery variables of model ``name`` pinned at ``version`` in ``env`` (see the module docstring)."""
    assert env.kubernetes is not None
    rollout = rollout_context(env, name, version)
    monitoring = env.delivery.mode in ("push", "pull")
    alerts = None
    if monitoring:
        max_error_ratio, max_p99_ms = limits(env.delivery.rollout)
        scope = promql.AlertScope(env.name, env.kubernetes.namespace, name, version, max_error_ratio, max_p99_ms,
                                  grace_s(env), parked)
        alerts = {"group": f"mlops-{name}", "rules": promql.alert_rules(scope)}
    kind = ("argoproj.io/v1alpha1", "Rollout") if rollout else ("apps/v1", "Deployment")
    return {
        "scale_target": {"apiVersion": kind[0], "kind": kind[1], "name": name},
        "rollout": rollout,
        "analysis": analysis_context(env, name),
        "monitoring": monitoring,
        "metrics_path": METRICS_PATH,
        "scrape_interval": SCRAPE_INTERVAL,
        "alerts": alerts,
    }

"""PromQL building blocks over the serving runtime's own metrics, shared by render and the monitor's reader.

The server exposes no model or version label on its request metrics: one process serves one version, and
says which in ``mlops_model_info{model,version,digest} = 1``. A query about one version therefore keeps
the series of the scrape targets that report that version, joined on the labels that name one target
(``job``, ``instance``, which Prometheus sets on every target)::

    sum(rate(mlops_serve_requests_total{namespace="ns",route="infer"}[5m])
        and on (job, instance) mlops_model_info{namespace="ns",model="m",version="v"})

``labels`` selects the environment's targets (``{"namespace": "mlops-prod"}`` in a cluster, what the
ServiceMonitor's targets carry; anything a local scrape configuration adds). Errors are inference answers
with a 5xx status; latency is ``mlops_serve_request_seconds`` (successful inference requests), in ms.

Pure: strings in, strings out. Rendered manifests (``mlops.render.promql``) and the Prometheus reader
(``mlops.adapters.metrics``) both build on these, so the canary analysis, the alerts and the monitor's
report read the same numbers the same way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

REQUESTS = "mlops_serve_requests_total"
LATENCY_BUCKET = "mlops_serve_request_seconds_bucket"
MODEL_INFO = "mlops_model_info"
INFER = "infer"
TARGET = "job, instance"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"(\d+)([smhdw])")


def duration(seconds: int) -> str:
    """``120`` → ``2m``; ``90`` → ``90s``: a duration Prometheus, Argo Rollouts and Flux all read."""
    if seconds and seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds and seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"


def parse_duration(text: str) -> int:
    """``"1h"`` → 3600, ``"1h30m"`` → 5400, ``"90s"`` → 90 (Prometheus units s, m, h, d, w; whole seconds)."""
    raw = text.strip()
    parts = _DURATION.findall(raw)
    if not raw or "".join(n + u for n, u in parts) != raw:
        raise ValueError(f"{text!r} is not a duration; expected a number and a unit (s, m, h, d, w): 90s, 1h, 1h30m")
    seconds = sum(int(n) * _UNITS[u] for n, u in parts)
    if seconds <= 0:
        raise ValueError(f"{text!r} is not a positive duration")
    return seconds


def number(value: float) -> str:
    """A threshold as PromQL and expr-lang both read it: ``0.01``, ``250``."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def selector(**labels: str) -> str:
    """``{a="x",b=~"y"}`` from ``a="x", b="=~y"`` (a value may start with an operator: ``=~``, ``!=``, ``!~``)."""
    parts = []
    for name, value in labels.items():
        op = "="
        for candidate in ("=~", "!=", "!~"):
            if value.startswith(candidate):
                op, value = candidate, value[len(candidate):]
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        parts.append(f'{name}{op}"{escaped}"')
    return "{" + ",".join(parts) + "}"


def series(metric: str, labels: Mapping[str, str], **match: str) -> str:
    """``metric{<labels>,<match>}``: the environment's selector first, then the metric's own matchers."""
    return metric + selector(**{**labels, **match})


def model_info(labels: Mapping[str, str], model: str, version: str | None = None) -> str:
    """``mlops_model_info{<labels>,model="m"[,version="v"]}``: the targets serving ``model`` (``version``)."""
    return series(MODEL_INFO, labels, model=model, **({"version": version} if version is not None else {}))


def version_targets(labels: Mapping[str, str], model: str, version: str, over: str | None = None) -> str:
    """The targets serving ``version``: now (``mlops_model_info{...}``), or with ``over`` at any time in that
    window (``max_over_time(mlops_model_info{...}[over])``: pods replaced or scaled down during a long window
    still count for the part they served)."""
    info = model_info(labels, model, version)
    return f"max_over_time({info}[{over}])" if over else info


def of_version(fn: str, metric: str, window: str, labels: Mapping[str, str], model: str, version: str, *,
               over: str | None = None, agg: str = "sum", **match: str) -> str:
    """``sum(fn(metric{...}[window]) and on (job, instance) mlops_model_info{...})``: one version's total
    (``agg``: ``max``, ``avg`` for a peak or a mean over its targets)."""
    info = version_targets(labels, model, version, over)
    return f"{agg}({fn}({series(metric, labels, **match)}[{window}]) and on ({TARGET}) {info})"


def error_ratio(labels: Mapping[str, str], model: str, version: str, window: str, *, over: str | None = None) -> str:
    """Share of the inference requests of ``version`` answered 5xx (0 without errors; none without requests)."""
    errors = of_version("rate", REQUESTS, window, labels, model, version, over=over, route=INFER, code="=~5..")
    total = of_version("rate", REQUESTS, window, labels, model, version, over=over, route=INFER)
    return f"(\n  {errors}\n  or vector(0)\n)\n/\n{total}"


def latency_quantile_ms(quantile: float, labels: Mapping[str, str], model: str, version: str, window: str, *,
                        over: str | None = None) -> str:
    """The ``quantile`` (0.5, 0.99) latency of the successful inference requests of ``version``, in ms."""
    info = version_targets(labels, model, version, over)
    buckets = f"rate({series(LATENCY_BUCKET, labels)}[{window}]) and on ({TARGET}) {info}"
    return f"1000 * histogram_quantile({number(quantile)}, sum by (le) (\n  {buckets}\n))"

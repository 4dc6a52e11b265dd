"""The MetricsSource seam: the infrastructure and performance layers of a served version, read from Prometheus.

``metrics_source(env.monitoring.prometheus_url)`` gives the Prometheus reader
(:class:`~mlops.adapters.metrics.prometheus.PrometheusSource`, httpx; locally the same reader against a
local Prometheus scraping local ``mlops serve`` processes), or — without a URL — a source that says so for
every number. ``source.operations(scope, "1h", price_per_replica_hour=...)`` returns
:class:`~mlops.adapters.metrics.operations.Operations`: CPU, memory and GPU of the serving pods,
throughput, latency, error ratio and cost per 1,000 predictions, each known or unknown with a reason.

This module is light on purpose (no httpx at import): the monitor imports it cheaply.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Protocol

from mlops.core.errors import Problem, UserError
from mlops.core.promql import parse_duration

from .operations import Operations, Reading, Scope

if TYPE_CHECKING:
    from mlops.core.spec.environment import Environment

__all__ = ["MetricsError", "MetricsSource", "Operations", "Reading", "Scope", "environment_scope", "metrics_source",
           "window_seconds"]

TOKEN_ENV = "MLOPS_PROMETHEUS_TOKEN"  # a bearer token for a Prometheus behind an authenticating proxy


class MetricsError(UserError):
    """Prometheus cannot be used (unreachable, credentials refused, not its API); one line, no credentials."""

    def __init__(self, message: str) -> None:
        super().__init__(Problem("prometheus", 1, 1, message))
        self.message = message


class MetricsSource(Protocol):
    """Reads the operations layers of one served version over a window."""

    @property
    def url(self) -> str:
        """Where it reads (never with credentials); "" when no Prometheus is configured."""
        ...

    def operations(self, scope: Scope, window: str | int = "1h", *, price_per_replica_hour: float | None = None,
                   at: float | None = None) -> Operations:
        """The version's numbers over ``window`` (``"1h"`` or seconds) ending at ``at`` (Unix seconds; now).

        Raises :class:`MetricsError` when Prometheus cannot be used at all; a missing series or a refused
        query makes only its numbers unknown, with the reason.
        """
        ...

    def close(self) -> None: ...


def window_seconds(window: str | int) -> int:
    """``"1h"`` → 3600; seconds pass through. A bad window is a usage error of the caller (ValueError)."""
    if isinstance(window, int):
        if window <= 0:
            raise ValueError(f"window {window} is not a positive number of seconds")
        return window
    return parse_duration(window)


class Unconfigured:
    """The source of an environment without ``monitoring.prometheus_url``: every number unknown, saying why."""

    url = ""
    reason = "no Prometheus: set monitoring.prometheus_url in the environment file"

    def operations(self, scope: Scope, window: str | int = "1h", *, price_per_replica_hour: float | None = None,
                   at: float | None = None) -> Operations:
        window_s = window_seconds(window)
        return Operations.unavailable(scope, str(window) if isinstance(window, str) else f"{window}s", window_s,
                                      time.time() if at is None else at, self.reason,
                                      price_per_replica_hour=price_per_replica_hour)

    def close(self) -> None:
        pass


def metrics_source(url: str | None, *, token: str | None = None, timeout: float = 10.0,
                   attempts: int = 3) -> MetricsSource:
    """The Prometheus at ``url`` (``user:password@`` becomes basic auth; ``token``, else ``$MLOPS_PROMETHEUS_TOKEN``,
    a bearer token), or :class:`Unconfigured` when ``url`` is empty. Nothing is requested yet."""
    if not url:
        return Unconfigured()
    from mlops.adapters.metrics.prometheus import PrometheusSource

    return PrometheusSource(url, token=token or os.environ.get(TOKEN_ENV) or None, timeout=timeout, attempts=attempts)


def environment_scope(env: Environment, model: str, version: str) -> Scope:
    """The targets of ``model`` ``version`` in ``env``: its namespace in a cluster (the label the ServiceMonitor's
    targets carry); locally none (a local Prometheus scrapes only this machine's servers)."""
    cluster = env.target == "kubernetes" and env.kubernetes and env.delivery.mode != "local"
    labels = {"namespace": env.kubernetes.namespace} if cluster and env.kubernetes else {}
    return Scope(model, version, labels)

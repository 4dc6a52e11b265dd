"""What the monitor reads about one served version besides drift and quality: infrastructure, performance, cost.

Every number is a :class:`Reading`: a value with its unit and where it came from, or ``None`` with the
reason it is unknown (a series nobody exports, no traffic in the window, no price in the environment).
A missing series is never read as 0: the report says what is missing and why.

Pure data (no HTTP): the Prometheus reader fills it, the monitor's report prints it. :meth:`Operations.rows`
gives plain text; :meth:`Operations.markdown` takes the caller's cell escaper (``mlops.report.escape``),
so nothing here emits markdown that was not escaped.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, cast

INFRASTRUCTURE = ("cpu_cores", "cpu_request_share", "cpu_limit_share", "memory_peak_bytes", "memory_limit_share",
                  "gpu_utilization")
PERFORMANCE = ("requests_per_s", "predictions_per_s", "error_ratio", "latency_p50_ms", "latency_p99_ms")
COST = ("replicas", "predictions", "cost_per_1k_predictions")
LABELS = {
    "cpu_cores": "CPU (cores, all replicas)", "cpu_request_share": "CPU / request",
    "cpu_limit_share": "CPU / limit", "memory_peak_bytes": "memory (peak, one replica)",
    "memory_limit_share": "memory / limit", "gpu_utilization": "GPU utilisation",
    "requests_per_s": "inference requests", "predictions_per_s": "predictions", "error_ratio": "errors (5xx)",
    "latency_p50_ms": "latency p50", "latency_p99_ms": "latency p99", "replicas": "replicas (average)",
    "predictions": "predictions in window", "cost_per_1k_predictions": "cost per 1,000 predictions",
}


@dataclass(frozen=True)
class Scope:
    """One served version in one environment: ``labels`` select the environment's scrape targets
    (``{"namespace": "mlops-prod"}`` in a cluster; what a local scrape configuration adds, or nothing)."""

    model: str
    version: str
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Reading:
    """A number, or ``None`` with ``reason``. ``source`` says what it was read from (``process``: the
    servers' own metrics; ``cadvisor``, ``kube-state-metrics``, ``dcgm``: a cluster's exporters)."""

    value: float | None
    unit: str
    source: str = ""
    reason: str | None = None
    queries: tuple[str, ...] = ()

    @classmethod
    def unknown(cls, unit: str, reason: str, queries: tuple[str, ...] = (), source: str = "") -> Reading:
        return cls(None, unit, source, reason, queries)

    @property
    def known(self) -> bool:
        return self.value is not None

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "unit": self.unit, "source": self.source or None, "unknown": self.reason
                if self.value is None else None, "queries": list(self.queries)}

    def text(self) -> str:
        """``0.23 cores``, ``46.0 %``, ``812 MiB``; ``unknown`` when there is no value."""
        return "unknown" if self.value is None else _format(self.value, self.unit)


def _sig(value: float, digits: int = 3) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 10 ** digits:
        return f"{value:,.0f}"
    return f"{value:.{max(0, digits - 1 - math.floor(math.log10(abs(value))))}f}"


def _format(value: float, unit: str) -> str:
    if unit == "ratio":
        return f"{_sig(100 * value)} %"
    if unit == "percent":
        return f"{_sig(value)} %"
    if unit == "bytes":
        for name, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
            if value >= size:
                return f"{_sig(value / size)} {name}"
        return f"{value:.0f} B"
    if unit in ("predictions", "replicas"):
        return _sig(value) if unit == "replicas" else f"{value:,.0f}"
    return f"{_sig(value)} {unit}"


def cost_per_1k(replicas: Reading, predictions: Reading, price_per_replica_hour: float | None,
                window_s: int) -> Reading:
    """replicas × price per replica-hour × hours ÷ predictions × 1,000, or why it cannot be known."""
    unit = "per 1,000 predictions"
    queries = replicas.queries + predictions.queries
    if price_per_replica_hour is None:
        return Reading.unknown(unit, "no price: set monitoring.price_per_replica_hour in the environment file",
                               queries)
    if replicas.value is None:
        return Reading.unknown(unit, f"replicas unknown: {replicas.reason}", queries)
    if predictions.value is None:
        return Reading.unknown(unit, f"predictions unknown: {predictions.reason}", queries)
    if predictions.value <= 0:
        return Reading.unknown(unit, "no prediction in the window: the cost per prediction is undefined", queries)
    cost = replicas.value * price_per_replica_hour * (window_s / 3600) / predictions.value * 1000
    return Reading(cost, unit, f"{_sig(replicas.value)} replicas × {price_per_replica_hour:g}/replica-hour × "
                               f"{_sig(window_s / 3600)} h ÷ {predictions.value:,.0f} predictions", None, queries)


@dataclass(frozen=True)
class Operations:
    """The infrastructure and performance layers of one version over ``window`` ending at ``at``."""

    model: str
    version: str
    window: str
    window_s: int
    at: float  # Unix seconds every query was evaluated at
    prometheus: str  # the Prometheus read (never with credentials); "" when none is configured
    labels: Mapping[str, str]
    cpu_cores: Reading
    cpu_request_share: Reading
    cpu_limit_share: Reading
    memory_peak_bytes: Reading
    memory_limit_share: Reading
    gpu_utilization: Reading
    requests_per_s: Reading
    predictions_per_s: Reading
    error_ratio: Reading
    latency_p50_ms: Reading
    latency_p99_ms: Reading
    replicas: Reading
    predictions: Reading
    cost_per_1k_predictions: Reading
    price_per_replica_hour: float | None = None
    notes: tuple[str, ...] = ()

    @classmethod
    def of(cls, scope: Scope, window: str, window_s: int, at: float, readings: Mapping[str, Reading], *,
           prometheus: str = "", price_per_replica_hour: float | None = None,
           notes: tuple[str, ...] = ()) -> Operations:
        """Build from one reading per number: every name of INFRASTRUCTURE, PERFORMANCE and COST."""
        names = {f.name for f in fields(cls) if f.name in _UNITS}
        if set(readings) != names:
            raise ValueError(f"readings {sorted(readings)} are not exactly {sorted(names)}")
        return cls(scope.model, scope.version, window, window_s, at, prometheus, dict(scope.labels),
                   price_per_replica_hour=price_per_replica_hour, notes=notes, **cast(dict[str, Any], readings))

    @classmethod
    def unavailable(cls, scope: Scope, window: str, window_s: int, at: float, reason: str, *, prometheus: str = "",
                    price_per_replica_hour: float | None = None) -> Operations:
        """Every number unknown for one ``reason`` (no Prometheus configured, or it cannot be read)."""
        readings = {name: Reading.unknown(unit, reason) for name, unit in _UNITS.items()}
        return cls.of(scope, window, window_s, at, readings, prometheus=prometheus,
                      price_per_replica_hour=price_per_replica_hour)

    def reading(self, name: str) -> Reading:
        value = getattr(self, name)
        assert isinstance(value, Reading), name
        return value

    @property
    def unknown(self) -> dict[str, str]:
        """Each unknown number and why."""
        return {name: r.reason or "unknown" for name in (*INFRASTRUCTURE, *PERFORMANCE, *COST)
                if (r := self.reading(name)).value is None}

    def to_dict(self) -> dict[str, Any]:
        """The JSON verdict's ``operations``: every reading with its unit, source, reason and PromQL."""
        return {"model": self.model, "version": self.version, "window": self.window, "window_s": self.window_s,
                "at": self.at, "prometheus": self.prometheus or None, "labels": dict(self.labels),
                "infrastructure": {n: self.reading(n).to_dict() for n in INFRASTRUCTURE},
                "performance": {n: self.reading(n).to_dict() for n in PERFORMANCE},
                "cost": {**{n: self.reading(n).to_dict() for n in COST},
                         "price_per_replica_hour": self.price_per_replica_hour},
                "unknown": self.unknown, "notes": list(self.notes)}

    def rows(self) -> list[tuple[str, str, str, str]]:
        """(layer, what, value, detail) in plain text; detail is the source, or why the value is unknown."""
        out = []
        for layer, names in (("infrastructure", INFRASTRUCTURE), ("performance", PERFORMANCE), ("cost", COST)):
            for name in names:
                r = self.reading(name)
                out.append((layer, LABELS[name], r.text(), r.source if r.value is not None else f"{r.reason}"))
        return out

    def text(self) -> str:
        """The rows as aligned plain text, then the notes."""
        rows = self.rows()
        width = max(len(what) for _, what, _, _ in rows)
        lines = [f"{self.model} {self.version} over {self.window}:"]
        lines += [f"  {what:<{width}}  {value:<20} {detail}".rstrip() for _, what, value, detail in rows]
        return "\n".join([*lines, *(f"  note: {n}" for n in self.notes)])

    def markdown(self, cell: Callable[[str], str]) -> str:
        """A compact markdown table; ``cell`` escapes each value for a table cell
        (e.g. ``lambda v: escape.cell(escape.text(v))`` from ``mlops.report.escape``)."""
        lines = ["| layer | metric | value | source or why unknown |", "|---|---|---|---|"]
        lines += ["| " + " | ".join(cell(part) for part in row) + " |" for row in self.rows()]
        return "\n".join([*lines, *(f"\n{cell(n)}" for n in self.notes)])


_UNITS = {"cpu_cores": "cores", "cpu_request_share": "ratio", "cpu_limit_share": "ratio",
          "memory_peak_bytes": "bytes", "memory_limit_share": "ratio", "gpu_utilization": "percent",
          "requests_per_s": "req/s", "predictions_per_s": "predictions/s", "error_ratio": "ratio",
          "latency_p50_ms": "ms", "latency_p99_ms": "ms", "replicas": "replicas", "predictions": "predictions",
          "cost_per_1k_predictions": "per 1,000 predictions"}

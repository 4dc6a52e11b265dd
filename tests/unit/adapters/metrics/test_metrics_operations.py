"""Operations as data: cost per 1,000 predictions, the JSON verdict, plain text and an escaped markdown table."""

from __future__ import annotations

import json

import pytest

from mlops.adapters.metrics.operations import COST, INFRASTRUCTURE, PERFORMANCE, Operations, Reading, Scope, cost_per_1k

SCOPE = Scope("digits-cnn", "v1", {"namespace": "mlops-prod"})
REPLICAS = Reading(2.0, "replicas", "mlops_model_info", None, ("q1",))
PREDICTIONS = Reading(72_000.0, "predictions", "rate × window", None, ("q2",))


def test_cost_per_1k_is_replicas_price_and_hours_over_predictions() -> None:
    cost = cost_per_1k(REPLICAS, PREDICTIONS, 0.5, 3600)
    assert cost.value == pytest.approx(2 * 0.5 * 1 / 72_000 * 1000) and cost.queries == ("q1", "q2")
    assert cost.source == "2.00 replicas × 0.5/replica-hour × 1.00 h ÷ 72,000 predictions"


@pytest.mark.parametrize(("replicas", "predictions", "price", "reason"), [
    (REPLICAS, PREDICTIONS, None, "no price: set monitoring.price_per_replica_hour in the environment file"),
    (Reading.unknown("replicas", "why r"), PREDICTIONS, 0.5, "replicas unknown: why r"),
    (REPLICAS, Reading.unknown("predictions", "why p"), 0.5, "predictions unknown: why p"),
    (REPLICAS, Reading(0.0, "predictions"), 0.5, "no prediction in the window: the cost per prediction is undefined"),
])
def test_an_unknown_part_makes_the_cost_unknown_never_made_up(replicas: Reading, predictions: Reading,
                                                              price: float | None, reason: str) -> None:
    cost = cost_per_1k(replicas, predictions, price, 3600)
    assert cost.value is None and cost.reason == reason and cost.text() == "unknown"


def test_a_free_replica_costs_nothing() -> None:
    assert cost_per_1k(REPLICAS, PREDICTIONS, 0.0, 3600).value == 0.0


@pytest.mark.parametrize(("value", "unit", "text"), [
    (0.2345, "cores", "0.234 cores"), (0.4567, "ratio", "45.7 %"), (50.0, "percent", "50.0 %"),
    (812 * 2**20, "bytes", "812 MiB"), (1.5 * 2**30, "bytes", "1.50 GiB"), (512.0, "bytes", "512 B"),
    (13.41, "req/s", "13.4 req/s"), (0.0, "ratio", "0 %"), (2.0, "ms", "2.00 ms"), (12345.6, "ms", "12,346 ms"),
    (131.2, "predictions", "131"), (1.508, "replicas", "1.51"), (0.01077, "per 1,000 predictions",
                                                                 "0.0108 per 1,000 predictions"),
])
def test_readings_read_as_people_write_them(value: float, unit: str, text: str) -> None:
    assert Reading(value, unit).text() == text


def operations() -> Operations:
    unknown = Operations.unavailable(SCOPE, "1h", 3600, 1.7e9, "no kube-state-metrics | <b>@team</b>",
                                     prometheus="http://prom:9090", price_per_replica_hour=0.5)
    readings = {n: unknown.reading(n) for n in (*INFRASTRUCTURE, *PERFORMANCE, *COST)}
    readings |= {"error_ratio": Reading(0.5, "ratio", "mlops serve", None, ("sum(x)",)), "replicas": REPLICAS}
    return Operations.of(SCOPE, "1h", 3600, 1.7e9, readings, prometheus="http://prom:9090",
                         price_per_replica_hour=0.5, notes=("CPU from process metrics",))


def test_the_json_verdict_groups_layers_and_lists_what_is_unknown() -> None:
    data = operations().to_dict()
    json.dumps(data, allow_nan=False)
    assert list(data["infrastructure"]) == list(INFRASTRUCTURE) and list(data["performance"]) == list(PERFORMANCE)
    assert data["performance"]["error_ratio"] == {"value": 0.5, "unit": "ratio", "source": "mlops serve",
                                                  "unknown": None, "queries": ["sum(x)"]}
    assert data["cost"]["price_per_replica_hour"] == 0.5 and data["cost"]["replicas"]["value"] == 2.0
    assert data["infrastructure"]["cpu_cores"]["value"] is None
    assert set(data["unknown"]) == {*INFRASTRUCTURE, *PERFORMANCE, *COST} - {"error_ratio", "replicas"}
    assert data["notes"] == ["CPU from process metrics"] and data["labels"] == {"namespace": "mlops-prod"}
    assert (data["window"], data["window_s"], data["at"], data["prometheus"]) == ("1h", 3600, 1.7e9, "http://prom:9090")


def test_text_and_markdown_tables_with_the_callers_escaper() -> None:
    ops = operations()
    text = ops.text()
    assert text.startswith("digits-cnn v1 over 1h:\n") and "errors (5xx)" in text and "50.0 %" in text
    assert text.endswith("note: CPU from process metrics")
    assert ops.rows()[0] == ("infrastructure", "CPU (cores, all replicas)", "unknown",
                             "no kube-state-metrics | <b>@team</b>")
    escaped = ops.markdown(lambda value: value.replace("|", "\\|").replace("<", "&lt;").replace("@", "@\u2060"))
    lines = escaped.splitlines()
    assert lines[:2] == ["| layer | metric | value | source or why unknown |", "|---|---|---|---|"]
    assert len(lines) == 2 + 14 + 2 and "<b>" not in escaped and "| <b>" not in escaped
    assert "no kube-state-metrics \\| &lt;b>@\u2060team&lt;/b>" in escaped


def test_building_needs_every_reading() -> None:
    with pytest.raises(ValueError, match="not exactly"):
        Operations.of(SCOPE, "1h", 3600, 1.0, {"replicas": REPLICAS})

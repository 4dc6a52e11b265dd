"""The canary analysis and the alerts against a real Prometheus scraping two real ``mlops serve`` processes.

Two versions of digits-cnn serve on loopback (image mode: ``--artifact``/``--record``), each scraped by a
Prometheus server (Debian's ``prometheus``) configured the way the rendered ServiceMonitor asks (its path;
the target labels the Prometheus Operator sets: ``job`` = the Service, ``namespace``, ``pod``):

- the healthy version is the digits CNN;
- the failing version has a real bug, no test hook: its network looks up an embedding of each pixel's
  intensity with 16 rows, while the data's intensities run 0…16. Every input holding a 16 makes the forward
  pass raise (``IndexError``), which the server answers 500 — what the error-ratio query counts as an
  error. Its warm-up (random normal inputs) passes, so it starts and reports ready like any version.

The same traffic goes to both: half the rows hold a 16, half are clipped to 15. Then the AnalysisTemplate's
queries (``{{args.*}}`` substituted as Argo Rollouts does, from the template's defaults and the Rollout's
args) and the PrometheusRule's alert expressions are evaluated through the HTTP API, and the success and
failure conditions are judged as Argo Rollouts judges them.
"""

from __future__ import annotations

import math
import re
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers.prometheus import (
    Process,
    address,
    broken_artifact,
    half_with_16,
    scrape_targets,
    send,
    serve,
    start_prometheus,
    wait_ready,
)
from tests.helpers.serve import build_artifact, write_record
from tests.unit.render.render_helpers import REPO_URL, set_pins

pytestmark = [pytest.mark.slow, pytest.mark.skipif(shutil.which("prometheus") is None,
                                                   reason="prometheus is not installed (Debian: apt-get install "
                                                          "prometheus)")]
MODEL, ENV, NS = "digits-cnn", "prod", "mlops-prod"
REQUESTS = 120  # per server


def rendered(repo: Path, version: str) -> dict[str, dict[str, Any]]:
    """prod's Rollout, AnalysisTemplate, ServiceMonitor and PrometheusRule for digits-cnn pinned at ``version``."""
    from mlops.render import render

    set_pins(repo, ENV, {MODEL: version})
    (prod,) = render(repo, [ENV], repo_url=REPO_URL)
    return {kind: yaml.safe_load(prod.files[f"{MODEL}/{kind}.yaml"])
            for kind in ("rollout", "analysistemplate", "servicemonitor", "prometheusrule")}


def analysis_queries(objects: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The template's metrics with ``{{args.NAME}}`` replaced: template defaults, then the Rollout's args."""
    template = objects["analysistemplate"]["spec"]
    args = {a["name"]: a.get("value") for a in template["args"]}
    args |= {a["name"]: a["value"] for a in objects["rollout"]["spec"]["strategy"]["canary"]["analysis"]["args"]}
    assert all(value is not None for value in args.values()), args
    out = []
    for metric in template["metrics"]:
        query = re.sub(r"\{\{\s*args\.([\w-]+)\s*\}\}", lambda m: str(args[m.group(1)]),
                       metric["provider"]["prometheus"]["query"])
        assert "{{" not in query
        out.append({**metric, "query": query})
    return out


def condition(expression: str, result: list[float]) -> bool:
    """An Argo Rollouts (expr-lang) condition of the forms we render: ``len(result) > 0 && result[0] <= X``."""
    assert re.fullmatch(r"len\(result\) > 0 && result\[0\] (<=|>) [0-9.e-]+", expression), expression
    return bool(eval(expression.replace("&&", "and"), {"__builtins__": {}}, {"len": len, "result": result}))


def phase(metric: dict[str, Any], result: list[float]) -> str:
    """Argo Rollouts' verdict on one measurement with both conditions set."""
    if condition(metric["failureCondition"], result):
        return "Failed"
    return "Successful" if condition(metric["successCondition"], result) else "Inconclusive"


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[tuple[Path, list[Process]]]:
    started: list[Process] = []
    yield tmp_path, started
    for process in reversed(started):
        process.stop()


def test_analysis_passes_the_healthy_version_and_fails_the_broken_one(
        example_repo: Path, prometheus: tuple[Path, list[Process]]) -> None:
    tmp, started = prometheus
    build_artifact(tmp / "good")
    good = str(write_record(tmp / "good", tmp / "good.yaml").version)
    started.append(serve(tmp / "good", tmp / "good.yaml"))  # loads while the broken version is built
    broken_artifact(tmp / "bad")
    bad = str(write_record(tmp / "bad", tmp / "bad.yaml").version)
    started.append(serve(tmp / "bad", tmp / "bad.yaml"))
    servers = {name: address(process) for name, process in zip(("good", "bad"), started, strict=True)}

    objects = {version: rendered(example_repo, version) for version in (good, bad)}
    monitor = objects[good]["servicemonitor"]["spec"]
    (endpoint,) = monitor["endpoints"]
    (namespace,) = monitor["namespaceSelector"]["matchNames"]
    scrape = {"job_name": MODEL, "metrics_path": endpoint["path"], "scheme": endpoint["scheme"],
              "static_configs": scrape_targets(servers, namespace)}
    prom = start_prometheus(tmp, [scrape], started)
    wait_ready(servers)

    # the same traffic to both: every other row holds a 16 (the broken version's out-of-range intensity)
    codes = send(servers, half_with_16(REQUESTS), seconds=5)  # spread over ~5 scrapes
    assert codes["good"] == Counter({200: REQUESTS})
    assert codes["bad"] == Counter({200: REQUESTS // 2, 500: REQUESTS // 2})

    # until Prometheus has scraped the last answers of both
    prom.wait_for(f'sum(mlops_serve_requests_total{{route="infer",namespace="{namespace}"}})', [2 * REQUESTS])
    time.sleep(1)

    verdicts: dict[str, dict[str, tuple[str, list[float]]]] = {}
    for version, name in ((good, "good"), (bad, "bad")):
        verdicts[name] = {}
        for metric in analysis_queries(objects[version]):
            result = prom.values(metric["query"])
            verdicts[name][metric["name"]] = (phase(metric, result), result)
    assert verdicts["good"]["error-ratio"] == ("Successful", [0.0]), verdicts
    assert verdicts["good"]["latency-p99-ms"][0] == "Successful", verdicts
    state, (ratio,) = verdicts["bad"]["error-ratio"]
    assert state == "Failed" and abs(ratio - 0.5) < 0.1, verdicts
    assert verdicts["bad"]["latency-p99-ms"][0] == "Successful", verdicts  # what succeeds is fast: errors decide
    assert 0 < verdicts["good"]["latency-p99-ms"][1][0] < 250

    # the alert expressions (their `for` aside) of the environment pinned at the healthy version
    rules = {r["alert"]: r for r in objects[good]["prometheusrule"]["spec"]["groups"][0]["rules"]}
    firing = {name: sorted(s["metric"].get("version", "") for s in prom.query(rule["expr"]))
              for name, rule in rules.items()}
    assert firing == {"MlopsErrorRatioHigh": [bad], "MlopsLatencyP99High": [], "MlopsNoTraffic": [],
                      "MlopsVersionMismatch": [bad], "MlopsPinnedVersionMissing": []}, firing
    (ratio_alert,) = prom.query(rules["MlopsErrorRatioHigh"]["expr"])
    assert ratio_alert["metric"]["namespace"] == namespace and ratio_alert["metric"]["model"] == MODEL
    assert not math.isnan(float(ratio_alert["value"][1]))
    # pinned at the broken version instead: the healthy one is the mismatch
    bad_rules = {r["alert"]: r for r in objects[bad]["prometheusrule"]["spec"]["groups"][0]["rules"]}
    assert [s["metric"]["version"] for s in prom.query(bad_rules["MlopsVersionMismatch"]["expr"])] == [good]
    assert prom.query(bad_rules["MlopsPinnedVersionMissing"]["expr"]) == []

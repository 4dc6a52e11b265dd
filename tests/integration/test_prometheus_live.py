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
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import yaml

from tests.helpers.serve import FEATURES, build_artifact, digits_rows, infer_body, write_record
from tests.unit.render.render_helpers import REPO_URL, set_pins

pytestmark = [pytest.mark.slow, pytest.mark.skipif(shutil.which("prometheus") is None,
                                                   reason="prometheus is not installed (Debian: apt-get install "
                                                          "prometheus)")]
MODEL, ENV, NS = "digits-cnn", "prod", "mlops-prod"
REQUESTS = 120  # per server


def broken_artifact(directory: Path) -> None:
    """A digits classifier with an off-by-one embedding table (16 intensity levels for data with 17)."""
    import torch
    from torch import nn

    from mlops.adapters.artifacts.signature import Signature
    from mlops.train.export import InferenceModule, write_program

    class OffByOne(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.levels = nn.Embedding(16, 2)
            self.head = nn.Linear(2 * len(FEATURES), 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out: torch.Tensor = self.head(self.levels(x.clamp(min=0).long()).flatten(1))
            return out

    torch.manual_seed(0)
    sig = Signature.build(MODEL, "classification", "input", FEATURES, list(range(10)))
    write_program(directory, InferenceModule(OffByOne(), None, None).eval(), sig)
    (directory / "metrics.json").write_text('{"metrics": {"accuracy": 0.1}}\n', "utf-8")
    (directory / "MODEL_CARD.md").write_text(f"# Model card: {MODEL}\n\nAn off-by-one embedding.\n", "utf-8")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Process:
    """A child process whose stderr is collected; stopped with SIGTERM."""

    def __init__(self, args: list[str], cwd: Path | None = None) -> None:
        self.proc = subprocess.Popen(args, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float = 90) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while True:
            for line in list(self.lines):
                if match := re.search(pattern, line):
                    return match
            assert self.proc.poll() is None, "\n".join(self.lines[-30:])
            assert time.monotonic() < deadline, f"no line matching {pattern!r}:\n" + "\n".join(self.lines[-30:])
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.reader.join(10)
        assert self.proc.stderr is not None
        self.proc.stderr.close()


def serve(artifact: Path, record: Path) -> Process:
    """``mlops serve`` in image mode on a free port (read from its "listening on" line by :func:`address`)."""
    return Process([sys.executable, "-m", "mlops", "serve", "--artifact", str(artifact), "--record", str(record),
                    "--port", "0", "--threads", "1"])


def address(served: Process) -> str:
    port = served.wait_for(r"http://127\.0\.0\.1:(\d+)").group(1)
    return f"http://127.0.0.1:{port}"


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


class Prom:
    def __init__(self, url: str) -> None:
        self.url = url

    def query(self, promql: str) -> list[dict[str, Any]]:
        resp = httpx.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=10)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["status"] == "success" and body["data"]["resultType"] == "vector", body
        return list(body["data"]["result"])

    def values(self, promql: str) -> list[float]:
        return [float(sample["value"][1]) for sample in self.query(promql)]


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
    port = free_port()
    config = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"}, "scrape_configs": [{
        "job_name": MODEL, "metrics_path": endpoint["path"], "scheme": endpoint["scheme"],
        "static_configs": [{"targets": [servers[name].removeprefix("http://")],
                            "labels": {"namespace": namespace, "pod": f"{MODEL}-{name}", "service": MODEL}}
                           for name in ("good", "bad")]}]}
    (tmp / "prometheus.yml").write_text(yaml.safe_dump(config))
    server = Process(["prometheus", f"--config.file={tmp / 'prometheus.yml'}", f"--storage.tsdb.path={tmp / 'tsdb'}",
                      f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"], cwd=tmp)
    started.append(server)
    prom = Prom(f"http://127.0.0.1:{port}")
    for name, url in servers.items():
        deadline = time.monotonic() + 120
        while httpx.get(f"{url}/v2/health/ready", timeout=5).status_code != 200:
            assert time.monotonic() < deadline, f"{name} server not ready"
            time.sleep(0.1)

    # the same traffic to both: every other row holds a 16 (the broken version's out-of-range intensity)
    rows = digits_rows(400, seed=3)
    with16 = rows[rows.max(axis=1) == 16][:REQUESTS]
    assert len(with16) == REQUESTS
    codes: dict[str, Counter[int]] = {name: Counter() for name in servers}
    started_at = time.monotonic()
    with httpx.Client(timeout=30) as client:
        for i in range(REQUESTS):
            row = with16[i] if i % 2 else np.minimum(with16[i], 15)
            for name, url in servers.items():
                codes[name][client.post(f"{url}/v2/models/{MODEL}/infer", json=infer_body(row[None])).status_code] += 1
            time.sleep(max(0.0, started_at + 5 * (i + 1) / REQUESTS - time.monotonic()))  # spread over ~5 scrapes
    assert codes["good"] == Counter({200: REQUESTS})
    assert codes["bad"] == Counter({200: REQUESTS // 2, 500: REQUESTS // 2})

    deadline = time.monotonic() + 20  # until Prometheus has scraped the last answers of both
    while prom.values(f'sum(mlops_serve_requests_total{{route="infer",namespace="{namespace}"}})') != [2 * REQUESTS]:
        assert time.monotonic() < deadline, prom.query('mlops_serve_requests_total{route="infer"}')
        time.sleep(0.5)
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

"""`mlops serve` as a process: digest check before any port opens, repo and image modes, drain on SIGTERM.

Everything binds 127.0.0.1 on free ports; load is bounded in count and time.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.conftest import ROOT, run_cli
from tests.helpers.git import git
from tests.helpers.serve import build_artifact, digits_rows, infer_body, write_record

MODEL = "digits-cnn"
GITIGNORE = "/data/\n/.mlops/\n__pycache__/\n"


class Served:
    """``python -m mlops serve ARGS --port 0``; the port is read from its 'listening on' line."""

    def __init__(self, *args: str, cwd: Path = ROOT) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "mlops", "serve", *args, "--port", "0"], cwd=cwd,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        deadline = time.monotonic() + 120
        while not (found := next((ln for ln in self.lines if "listening on" in ln), None)):
            assert self.proc.poll() is None, "\n".join(self.lines)
            assert time.monotonic() < deadline, "no 'listening on' line"
            time.sleep(0.05)
        match = re.search(r"http://127\.0\.0\.1:(\d+)", found)
        assert match, found
        self.url = f"http://127.0.0.1:{match.group(1)}"

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{self.url}/v2/health/ready", timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert self.proc.poll() is None and time.monotonic() < deadline, "\n".join(self.lines)
            time.sleep(0.05)

    def terminate(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(60)
        self.reader.join(10)
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        assert self.proc.stderr is not None
        self.proc.stderr.close()
        return code


def serve_fails(*args: str) -> tuple[int, str]:
    port = free_port()
    proc = subprocess.run([sys.executable, "-m", "mlops", "serve", *args, "--port", str(port)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    with socket.socket() as sock:  # nothing listens there: the server never started
        assert sock.connect_ex(("127.0.0.1", port)) != 0
    return proc.returncode, proc.stderr


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def artifact(tmp_path: Path) -> tuple[Path, Path, str]:
    build_artifact(tmp_path / "artifact")
    record = write_record(tmp_path / "artifact", tmp_path / "record.yaml")
    return tmp_path / "artifact", tmp_path / "record.yaml", str(record.version)


def test_a_tampered_artifact_is_one_error_line_exit_1_and_no_server(artifact: tuple[Path, Path, str]) -> None:
    directory, record, _ = artifact
    with (directory / "program.pt2").open("ab") as fh:
        fh.write(b"\0")
    code, err = serve_fails("--artifact", str(directory), "--record", str(record))
    assert code == 1
    assert err.strip().count("\n") == 0 and "listening" not in err and "Traceback" not in err
    assert err.startswith(f"{record}:1:1: artifact files differ from the version record: program.pt2")


def test_a_config_for_another_digest_is_refused(artifact: tuple[Path, Path, str], tmp_path: Path) -> None:
    from mlops.core.repo import load_repository
    from mlops.core.spec.runtime import runtime_config

    directory, record, version = artifact
    spec = load_repository(ROOT, only_models={MODEL}).model(MODEL)
    config = tmp_path / "serving.json"
    config.write_text(json.dumps(runtime_config(spec, version, "dev", "sha256:" + "1" * 64)))
    code, err = serve_fails("--artifact", str(directory), "--record", str(record), "--config", str(config))
    assert code == 1 and "does not match the record's" in err and "listening" not in err


def test_usage_errors_exit_2() -> None:
    assert run_cli("serve").code == 2
    assert run_cli("serve", "digits-cnn").code == 2  # no @VERSION
    assert run_cli("serve", "--artifact", "x").code == 2  # no --record


def _load(url: str, stop: threading.Event, results: Counter[str], rows: np.ndarray) -> None:
    with httpx.Client(base_url=url, timeout=30) as client:
        i = 0
        while not stop.is_set() and i < 2000:
            i += 1
            try:
                resp = client.post(f"/v2/models/{MODEL}/infer", json=infer_body(rows[i % len(rows)][None]))
                results[str(resp.status_code)] += 1
                if resp.status_code == 503:
                    time.sleep(0.01)
            except httpx.TransportError:
                results["closed"] += 1  # not admitted: the server had stopped listening
                time.sleep(0.01)


def test_image_mode_serves_logs_predictions_and_drains_on_sigterm(artifact: tuple[Path, Path, str],
                                                                   tmp_path: Path) -> None:
    from mlops.core.repo import load_repository
    from mlops.core.spec.runtime import runtime_config
    from mlops.serve.labels import join_labels

    directory, record, version = artifact
    spec = load_repository(ROOT, only_models={MODEL}).model(MODEL)
    cfg = runtime_config(spec, version, "local")
    cfg["prediction_log"] |= {"sample_rate": 1.0, "sink": str(tmp_path / "predictions")}
    (tmp_path / "serving.json").write_text(json.dumps(cfg))
    served = Served("--artifact", str(directory), "--record", str(record), "--config", str(tmp_path / "serving.json"))
    served.wait_ready()
    rows = digits_rows(64)
    for i in range(5):
        resp = httpx.post(f"{served.url}/v2/models/{MODEL}/infer", json=infer_body(rows[i:i + 1], rid=f"r{i}"))
        assert resp.status_code == 200 and resp.json()["id"] == f"r{i}"

    stop, results = threading.Event(), Counter[str]()
    workers = [threading.Thread(target=_load, args=(served.url, stop, results, rows)) for _ in range(8)]
    for worker in workers:
        worker.start()
    time.sleep(1.0)
    code = served.terminate()  # SIGTERM under load
    stop.set()
    for worker in workers:
        worker.join(30)
    assert code == 0, "\n".join(served.lines)
    stopped = next(ln for ln in served.lines if "stopped:" in ln)
    admitted, answered = map(int, re.findall(r"(\d+) of (\d+)", stopped)[0][::-1])
    assert answered == admitted == results["200"] + 5 and results["200"] > 0
    assert set(results) <= {"200", "503", "closed"}

    (tmp_path / "labels.csv").write_text("request_id,label\nr0,3\nr1,4\n")
    result = run_cli("labels", "ingest", str(tmp_path / "labels.csv"), "--model", MODEL, "--sink",
                     str(tmp_path / "labels"))
    assert result.code == 0 and "ingested 2 labels" in result.out, result.err
    joined = {r["request_id"]: r for r in join_labels(tmp_path / "predictions", tmp_path / "labels", MODEL)}
    assert sorted(joined) == ["r0", "r1"] and joined["r1"]["label"] == 4 and joined["r1"]["version"] == version
    assert len(joined["r0"]["features"]) == 64 and len(joined["r0"]["outputs"]) == 10



@pytest.mark.slow
def test_repo_mode_serves_what_mlops_train_recorded(example_repo: Path) -> None:
    from mlops.adapters.artifacts.loader import load_verified
    from mlops.core.repo import load_repository

    (example_repo / ".gitignore").write_text(GITIGNORE)
    git(example_repo, "init", "-q", "-b", "main")
    git(example_repo, "add", "-A")
    git(example_repo, "commit", "-qm", "base")
    trained = run_cli("train", MODEL, "--repo", str(example_repo), "--epochs", "1", "--device", "cpu", "--threads",
                      "1", "--no-push", "--json", env={**os.environ, "CI": "true"})
    assert trained.code == 0, trained.err
    version = json.loads(trained.out)["version"]
    served = Served(f"{MODEL}@{version}", "--repo", str(example_repo), cwd=example_repo)
    served.wait_ready()
    meta = httpx.get(f"{served.url}/v2/models/{MODEL}").json()
    assert meta["versions"] == [version]
    rows = digits_rows(4)
    resp = httpx.post(f"{served.url}/v2/models/{MODEL}/versions/{version}/infer", json=infer_body(rows, rid="t"))
    assert resp.status_code == 200
    record = load_repository(example_repo, only_models={MODEL}).records[MODEL][version].spec
    local = load_verified(example_repo / "models" / MODEL / "versions" / version, record)
    np.testing.assert_allclose(np.array(resp.json()["outputs"][0]["data"], np.float32).reshape(4, 10),
                               local.predict(rows), rtol=1e-5, atol=1e-5)
    metrics = httpx.get(f"{served.url}/metrics").text
    assert f'version="{version}"' in metrics and record.artifact.digest in metrics
    assert served.terminate() == 0
    assert any("stopped: 1 of 1 admitted" in ln for ln in served.lines)
    shutil.rmtree(example_repo / ".mlops" / "predictions", ignore_errors=True)
    assert run_cli("serve", f"{MODEL}@20990101-deadbeef", "--repo", str(example_repo)).code == 1

"""Production data in an object store, against a real S3 API on loopback (``moto_server``), not a mocked client.

Credentials and the endpoint reach every process the way a rendered pod gets them from its Secret
(``envFrom``): environment variables only — ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
``AWS_DEFAULT_REGION`` and ``AWS_ENDPOINT_URL`` (honoured by botocore ≥ 1.31, so by s3fs). A real
``mlops serve`` process writes its Parquet prediction log to ``s3://…/predictions``; ``mlops labels ingest``
writes labels to ``s3://…/labels/<model>``; ``read_window`` + ``join`` read them back.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.conftest import ROOT, run_cli
from tests.helpers.serve import FEATURES, build_artifact, digits_rows, infer_body, write_record
from tests.integration.test_serve_cli import Served

pytest.importorskip("s3fs")
MOTO = shutil.which("moto_server") or str(Path(sys.executable).parent / "moto_server")
MODEL = "digits-cnn"
BUCKET = "mlops-sinks-test"


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def s3() -> Iterator[dict[str, str]]:
    """A moto S3 server on loopback and the environment variables that point a process at it."""
    if not Path(MOTO).exists():
        pytest.skip("moto_server is not installed (pip install 'moto[server]')")
    port = _port()
    proc = subprocess.Popen([MOTO, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(endpoint, timeout=2)
            break
        except httpx.TransportError:
            assert proc.poll() is None and time.monotonic() < deadline, "moto_server did not start"
            time.sleep(0.1)
    env = {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1"}
    saved = {k: os.environ.get(k) for k in [*env, "AWS_PROFILE", "AWS_SESSION_TOKEN"]}
    os.environ.update(env)
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(key, None)
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()
    s3fs.S3FileSystem().mkdir(BUCKET)
    try:
        yield env
    finally:
        s3fs.S3FileSystem.clear_instance_cache()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        proc.terminate()
        proc.wait(30)


def test_a_served_model_logs_to_s3_and_the_monitor_reads_and_joins_it(s3: dict[str, str], tmp_path: Path) -> None:
    import s3fs

    from mlops.adapters.sinks import join, read_labels_table, read_window
    from mlops.core.repo import load_repository
    from mlops.core.spec.environment import EnvMonitoring
    from mlops.core.spec.runtime import runtime_config

    build_artifact(tmp_path / "artifact")
    version = str(write_record(tmp_path / "artifact", tmp_path / "record.yaml").version)
    spec = load_repository(ROOT, only_models={MODEL}).model(MODEL)
    sink = f"s3://{BUCKET}/predictions"
    cfg = runtime_config(spec, version, "prod", monitoring=EnvMonitoring(predictions=sink))  # as rendered
    assert cfg["prediction_log"]["sink"] == sink
    cfg["prediction_log"] |= {"sample_rate": 1.0, "format": "parquet"}
    (tmp_path / "serving.json").write_text(json.dumps(cfg))
    served = Served("--artifact", str(tmp_path / "artifact"), "--record", str(tmp_path / "record.yaml"),
                    "--config", str(tmp_path / "serving.json"))
    served.wait_ready()
    rows = digits_rows(40, seed=3)
    answers = {}
    for i in range(20):  # 20 requests of 2 rows: 40 logged rows
        resp = httpx.post(f"{served.url}/v2/models/{MODEL}/infer", json=infer_body(rows[2 * i:2 * i + 2], f"q{i}"))
        assert resp.status_code == 200, resp.text
        answers[f"q{i}"] = np.array(resp.json()["outputs"][0]["data"]).reshape(2, -1)
    assert served.terminate() == 0, "\n".join(served.lines)  # SIGTERM flushes the log

    keys = s3fs.S3FileSystem().ls(f"{BUCKET}/predictions")
    assert keys and all(k.rsplit("/", 1)[-1].startswith(f"predictions-{MODEL}-{version}-") for k in keys)
    assert all(k.endswith(".parquet") for k in keys)

    (tmp_path / "labels.csv").write_text("request_id,label,row\nq3,7,1\nq5,2,0\nq5,4,1\nnever-served,1,0\n")
    ingested = run_cli("labels", "ingest", str(tmp_path / "labels.csv"), "--model", MODEL, "--sink",
                       f"s3://{BUCKET}/labels/{MODEL}", env={**os.environ, **s3})
    assert ingested.code == 0 and "ingested 4 labels" in ingested.out, ingested.err

    window = read_window(sink, MODEL, version, FEATURES, rows=30)
    assert (window.total, window.kept, window.problems) == (30, 30, ())
    assert window.schema.ok and window.features.shape == (30, 64) and window.outputs.shape == (30, 10)
    assert window.meta["request_id"].iloc[-1] == "q19" and window.meta["request_id"].iloc[0] == "q5"
    for rid, row, values, outputs in zip(window.meta["request_id"], window.meta["row"],
                                         window.features.to_numpy(), window.outputs, strict=True):
        i = int(rid[1:])
        assert np.array_equal(values, rows[2 * i + row].astype(np.float64))  # float32 in, exact out
        assert np.allclose(outputs, answers[rid][row], rtol=1e-6)
    assert (window.meta["prediction"] == window.outputs.argmax(1)).all()

    joined = join(window, read_labels_table(f"s3://{BUCKET}/labels/{MODEL}", MODEL))
    assert list(zip(joined["request_id"], joined["row"], joined["label"], strict=True)) == [
        ("q5", 0, 2), ("q5", 1, 4)]  # q3 is older than the window's last 30 rows
    everything = join(read_window(sink, MODEL, version, FEATURES), read_labels_table(
        f"s3://{BUCKET}/labels/{MODEL}", MODEL))
    assert everything["request_id"].tolist() == ["q3", "q5", "q5"]
    assert np.array_equal(everything.loc[0, FEATURES].to_numpy(dtype=float), rows[7].astype(np.float64))

    sample = read_window(sink, MODEL, version, FEATURES, sample=8, seed=1)
    assert sample.kept == 8 and sample.total == 40
    assert sample.meta["request_id"].tolist() == read_window(sink, MODEL, version, FEATURES, sample=8,
                                                             seed=1).meta["request_id"].tolist()


def test_labels_ingest_with_env_writes_to_the_environments_bucket(s3: dict[str, str], example_repo: Path,
                                                                 tmp_path: Path) -> None:
    import s3fs

    prod = example_repo / "environments" / "prod.yaml"
    text = prod.read_text()
    assert "  labels: s3://mlops-prod-data/labels\n" in text
    prod.write_text(text.replace("  labels: s3://mlops-prod-data/labels\n", f"  labels: s3://{BUCKET}/env-labels\n"))
    (tmp_path / "labels.jsonl").write_text('{"request_id": "a", "label": 3}\n')
    result = run_cli("labels", "ingest", str(tmp_path / "labels.jsonl"), "--model", MODEL, "--env", "prod",
                     "--repo", str(example_repo), env={**os.environ, **s3})
    assert result.code == 0, result.err
    (key,) = s3fs.S3FileSystem().ls(f"{BUCKET}/env-labels/{MODEL}")
    assert key.rsplit("/", 1)[-1].startswith(f"labels-{MODEL}-")
    from mlops.adapters.sinks import read_labels_table

    table = read_labels_table(f"s3://{BUCKET}/env-labels/{MODEL}", MODEL)
    assert table[["request_id", "label"]].values.tolist() == [["a", 3]]


def test_a_prefix_with_nothing_logged_is_an_empty_window(s3: dict[str, str]) -> None:
    from mlops.adapters.sinks import read_window

    window = read_window(f"s3://{BUCKET}/nothing-here", MODEL, None, FEATURES, rows=10)
    assert window.kept == 0 and window.features.columns.tolist() == FEATURES

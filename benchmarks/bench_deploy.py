"""Local delivery: time from a merged pin to the new version serving, and failed requests during the switch.

    .venv/bin/python benchmarks/bench_deploy.py            # 5 switches, about 1 minute
    .venv/bin/python benchmarks/bench_deploy.py --switches 10

A copy of the example repository (git) pins digits-cnn versions (real exported programs with different seeded
weights, in a directory artifact store). The first ``mlops deploy --env dev`` starts dev; then, repeatedly, a
new pin is committed and ``mlops deploy --env dev`` runs while four client threads send requests to dev's port as
fast as they get answers. Measured per switch: the command's wall time (merge → new version serving, smoke test
included), the time until the first answer from the new version, and every request that did not get a 200.
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
MODEL = "digits-cnn"
PARTS = ["models", "environments", "data.dvc", ".dvc/config", ".dvcignore"]


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=bench", "-c", "user.email=b@x", *args], check=True,
                   capture_output=True)


def version(repo: Path, store: Path, seed: int) -> str:
    import importlib.util

    import numpy as np
    import torch
    from sklearn.datasets import load_digits

    from mlops.adapters.artifacts.signature import Signature
    from mlops.core.lineage import hash_artifact, version_id
    from mlops.core.repo import load_repository
    from mlops.train.export import InferenceModule, write_program
    from mlops.train.record import finalize

    spec = load_repository(repo, only_models={MODEL}).model(MODEL)
    loader = importlib.util.spec_from_file_location("bench_cnn", repo / "models" / MODEL / "model.py")
    assert loader is not None and loader.loader is not None
    user = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(user)
    torch.manual_seed(seed)
    x = load_digits().data.astype(np.float32)
    staging = store / f"seed-{seed}"
    write_program(staging, InferenceModule(user.build(dict(spec.params), 64, 10), x.mean(0), x.std(0) + 1e-3).eval(),
                  Signature.build(MODEL, "classification", "input", list(spec.data.features), list(range(10))))
    (staging / "metrics.json").write_text('{"metrics": {}}\n')
    digest, files = hash_artifact(staging)
    name = version_id(digest, datetime.now(UTC))
    target = store / MODEL / name
    target.parent.mkdir(parents=True, exist_ok=True)
    staging.rename(target)
    data = {"path": spec.data.path, "md5": "0" * 32 + ".dir", "rows": {}}
    _, text = finalize({"model": MODEL, "version": name, "created": datetime.now(UTC).isoformat(timespec="seconds"),
                        "artifact": {"digest": digest, "uri": target.as_uri(), "files": files},
                        "data": data, "evaluation_data": data, "seed": seed, "metrics": {}, "duration_s": 0.0,
                        "code": {"commit": "0" * 40, "model_py_sha256": "sha256:" + "0" * 64},
                        "environment": {"python": "3.11", "torch": torch.__version__, "mlops": "bench",
                                        "device": "cpu", "cpu": "bench"}})
    (repo / "models" / MODEL / "versions" / f"{name}.yaml").write_text(text)
    return name


def pin(repo: Path, name: str, port: int) -> None:
    path = repo / "environments" / "dev.yaml"
    head = path.read_text().split("\nlocal:")[0]
    path.write_text(f"{head}\nlocal:\n  ports: {{{MODEL}: {port}}}\npins: {{{MODEL}: {name}}}\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", f"pin {name}")


def deploy(repo: Path) -> tuple[float, dict[str, object]]:
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "mlops", "deploy", "--env", "dev", "--json", "--repo", str(repo)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"deploy failed: {proc.stdout[-800:]}{proc.stderr[-800:]}")
    return time.perf_counter() - started, json.loads(proc.stdout)


class Load:
    def __init__(self, port: int, threads: int = 4) -> None:
        self.url = f"http://127.0.0.1:{port}/v2/models/{MODEL}/infer"
        self.stop = threading.Event()
        self.codes: Counter[str] = Counter()
        self.first_seen: dict[str, float] = {}
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(threads)]

    def run(self) -> None:
        body = {"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 64], "data": [1.0] * 64}]}
        with httpx.Client(timeout=30) as client:
            while not self.stop.is_set():
                try:
                    resp = client.post(self.url, json=body)
                    code, served = str(resp.status_code), resp.json().get("model_version", "?")
                except httpx.HTTPError as exc:
                    code, served = type(exc).__name__, "-"
                with self.lock:
                    self.codes[code] += 1
                    self.first_seen.setdefault(served, time.perf_counter())

    def __enter__(self) -> Load:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--switches", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-deploy-") as tmp:
        repo, store = Path(tmp) / "repo", Path(tmp) / "store"
        for part in PARTS:
            src = ROOT / part
            if src.is_dir():
                shutil.copytree(src, repo / part, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                (repo / part).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, repo / part)
        shutil.copytree(ROOT / ".dvc" / "cache", repo / ".dvc" / "cache")  # the data version's manifest
        (repo / ".gitignore").write_text("/.mlops/\n/.dvc/cache/\n")
        git(repo, "init", "-q", "-b", "main")
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        versions = [version(repo, store, seed) for seed in range(args.switches + 1)]
        pin(repo, versions[0], port)
        deploy(repo)
        rows = []
        try:
            for name in versions[1:]:
                pin(repo, name, port)
                with Load(port) as load:
                    time.sleep(0.5)
                    started = time.perf_counter()
                    seconds, _ = deploy(repo)
                    time.sleep(0.5)
                first = load.first_seen.get(name, float("nan")) - started
                failed = sum(n for code, n in load.codes.items() if code != "200")
                rows.append((seconds, first, sum(load.codes.values()), failed))
                print(f"switch to {name}: deploy {seconds:.2f} s, new version answering after {first:.2f} s, "
                      f"{sum(load.codes.values())} requests, {failed} failed", flush=True)
        finally:
            subprocess.run([sys.executable, "-c", "import sys; from pathlib import Path; "
                            "from mlops.adapters.serving.local import LocalServing; "
                            "LocalServing(Path(sys.argv[1])).stop('dev')", str(repo)], check=False)
    print(f"\n{len(rows)} switches: merge → serving median {statistics.median(r[0] for r in rows):.2f} s "
          f"(max {max(r[0] for r in rows):.2f}); new version answering after median "
          f"{statistics.median(r[1] for r in rows):.2f} s; {sum(r[2] for r in rows)} requests under load, "
          f"{sum(r[3] for r in rows)} failed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

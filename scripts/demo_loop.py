"""The demo: the framework's loop on one machine, run by ``scripts/demo``.

Everything is real and local: a sandbox clone of this repository with a bare git remote
(``.mlops/demo/origin.git``), the DVC directory remote of this checkout (``.mlops/dvc-remote``), the
local forge (pull requests, comments and statuses as JSON under the sandbox's ``.mlops/forge/``) and a
local ``mlops serve`` process. The checkout you run it from is only read.

  1. validate this repository and render every environment;
  2. bootstrap: clone into the sandbox, train both example models on main, pin them in dev → staging → prod;
  3. propose: a branch that widens digits-cnn, a pull request, validate --base, train, record,
     evaluate against every environment, the report (one PR comment) and the mlops/gates status;
  4. merge: pin the new version in dev, render dev, and the manifest diff of the merge;
  5. serve the new version locally and send it real requests.
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
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / ".mlops" / "demo"
WORK = DEMO / "work"
ORIGIN = DEMO / "origin.git"
TRAIN_FLAGS = ("--threads", "1")
GIT_ENV = {"GIT_AUTHOR_NAME": "mlops demo", "GIT_AUTHOR_EMAIL": "demo@mlops.invalid",
           "GIT_COMMITTER_NAME": "mlops demo", "GIT_COMMITTER_EMAIL": "demo@mlops.invalid"}


def banner(text: str) -> None:
    print(f"\n\033[1m━━ {text}\033[0m" if sys.stdout.isatty() else f"\n== {text}", flush=True)


def mlops(*argv: str, cwd: Path = WORK, check: bool = True, quiet: bool = False) -> subprocess.CompletedProcess[str]:
    print(f"$ mlops {' '.join(argv)}", flush=True)
    proc = subprocess.run([sys.executable, "-m", "mlops", *argv], cwd=cwd, text=True, capture_output=quiet,
                          env={**os.environ, "GITHUB_ACTIONS": "", "GITHUB_TOKEN": ""})
    if check and proc.returncode != 0:
        if quiet:
            print(proc.stdout, proc.stderr, sep="\n")
        sys.exit(f"demo: `mlops {' '.join(argv)}` failed with exit code {proc.returncode}")
    return proc


def git(*argv: str, cwd: Path = WORK) -> str:
    proc = subprocess.run(["git", *argv], cwd=cwd, text=True, capture_output=True, env={**os.environ, **GIT_ENV})
    if proc.returncode != 0:
        sys.exit(f"demo: git {' '.join(argv)} failed: {proc.stderr.strip()}")
    return proc.stdout.strip()


def dvc(*argv: str) -> None:
    exe = Path(sys.executable).with_name("dvc")
    subprocess.run([str(exe), *argv], cwd=WORK, check=True, stdout=subprocess.DEVNULL)


def set_pin(env: str, model: str, version: str) -> None:
    """Pin ``model`` at ``version`` in environments/<env>.yaml, keeping the file's comments and layout."""
    path = WORK / "environments" / f"{env}.yaml"
    text = path.read_text()
    line = re.compile(rf"^  {re.escape(model)}: .*$", re.M)
    if line.search(text):
        text = line.sub(f"  {model}: {version}", text)
    elif re.search(r"^pins: \{\}$", text, re.M):
        text = re.sub(r"^pins: \{\}$", f"pins:\n  {model}: {version}", text, flags=re.M)
    else:
        text = re.sub(r"^pins:$", f"pins:\n  {model}: {version}", text, flags=re.M)
    path.write_text(text)


def train(model: str) -> str:
    out = mlops("train", model, *TRAIN_FLAGS, "--json", quiet=True).stdout
    result: dict[str, Any] = json.loads(out)
    metrics = ", ".join(f"{k} {v:.4f}" for k, v in sorted(result.get("metrics", {}).items()))
    print(f"  trained {model}@{result['version']}  {result.get('digest', '')[:19]}…  {metrics}")
    return str(result["version"])


def step_validate_and_render() -> None:
    banner("1. validate this repository and render every environment")
    mlops("validate", cwd=ROOT)
    mlops("render", "--repo", str(ROOT), "--out", str(DEMO / "manifests-main"), cwd=ROOT)


def step_bootstrap() -> dict[str, str]:
    banner("2. bootstrap a sandbox: bare git remote, DVC remote, two trained models pinned everywhere")
    if DEMO.exists():
        shutil.rmtree(DEMO / "work", ignore_errors=True)
        shutil.rmtree(ORIGIN, ignore_errors=True)
    WORK.mkdir(parents=True)
    files = git("ls-files", "-co", "--exclude-standard", cwd=ROOT).splitlines()
    for rel in files:
        src = ROOT / rel
        if src.is_file() and not rel.startswith("tests/"):
            (WORK / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, WORK / rel)
    git("init", "-q", "--bare", "-b", "main", str(ORIGIN), cwd=DEMO)
    git("init", "-q", "-b", "main")
    git("remote", "add", "origin", str(ORIGIN))
    dvc("remote", "modify", "--local", "local", "url", str(ROOT / ".mlops" / "dvc-remote"))
    dvc("pull", "--quiet")
    git("add", "-A")
    git("commit", "-qm", "Initial import")
    print(f"  sandbox {WORK.relative_to(ROOT)} → origin {ORIGIN.relative_to(ROOT)}; data pulled from the DVC remote")
    pins = {model: train(model) for model in ("digits-cnn", "cancer-mlp")}
    for env in ("dev", "staging", "prod"):
        for model, version in pins.items():
            set_pin(env, model, version)
    git("add", "-A")
    git("commit", "-qm", "Train the example models and pin them in every environment")
    git("push", "-q", "origin", "main")
    mlops("validate")
    return pins


def step_propose(baseline: str) -> str:
    banner("3. propose a change by pull request: wider digits-cnn")
    from mlops.adapters.forge.local import LocalForge

    branch = "propose/digits-cnn-wider"
    git("checkout", "-q", "-b", branch)
    spec = WORK / "models" / "digits-cnn" / "model.yaml"
    spec.write_text(spec.read_text().replace("  channels: 16\n", "  channels: 24\n"))
    git("commit", "-qam", "digits-cnn: 24 channels")
    git("push", "-q", "origin", branch)
    pr = LocalForge(WORK).open_pr(branch, "main", "digits-cnn: 24 channels", "Wider first convolution.")
    print(f"  opened pull request #{pr.number} {branch} → main (local forge)")
    mlops("validate", "--base", "main")
    candidate = train("digits-cnn")
    git("add", "-A")
    git("commit", "-qm", f"Version record digits-cnn@{candidate}")
    git("push", "-q", "origin", branch)
    verdicts = DEMO / "verdicts"
    shutil.rmtree(verdicts, ignore_errors=True)
    for env in ("dev", "staging", "prod"):
        mlops("evaluate", "digits-cnn", "--against", env, "--json-out", str(verdicts / f"digits-cnn--{env}.json"),
              check=False, quiet=True)
        verdict = json.loads((verdicts / f"digits-cnn--{env}.json").read_text())
        print(f"  {env:8s} {'pass' if verdict['passed'] else 'FAIL'} "
              f"(baseline {baseline})")
    report = DEMO / "report.md"
    mlops("report", "--verdicts", str(verdicts), "--base", "main", "--out", str(report), quiet=True)
    mlops("report", "--status", "--verdicts", str(verdicts), "--sha", git("rev-parse", "HEAD"), quiet=True)
    print(f"\n{report.read_text()}\n")
    print(f"  the comment is stored in {(WORK / '.mlops' / 'forge').relative_to(ROOT)} and printed above;"
          f" markdown: {report.relative_to(ROOT)}")
    return candidate


def step_merge(candidate: str) -> None:
    banner("4. merge (review = governance), pin the new version in dev, render, diff")
    git("checkout", "-q", "main")
    git("merge", "-q", "--no-ff", "propose/digits-cnn-wider", "-m", "Merge pull request #1")
    set_pin("dev", "digits-cnn", candidate)
    git("commit", "-qam", f"Deploy digits-cnn@{candidate} to dev")
    git("push", "-q", "origin", "main")
    mlops("render", "--env", "dev", "--out", str(DEMO / "manifests"))
    diff = mlops("diff", "--base", "HEAD~1", "--env", "dev", quiet=True).stdout.splitlines()
    changed = [line for line in diff if line.startswith(("+", "-")) and not line.startswith(("+++", "---"))]
    print("  " + "\n  ".join(changed[:12] + diff[-2:]))
    print(f"  manifests: {(DEMO / 'manifests' / 'dev').relative_to(ROOT)} (kustomization.yaml for Argo CD / Flux)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _http(url: str, body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        raw = resp.read().decode()
    return json.loads(raw) if raw.startswith(("{", "[")) else raw


def step_serve(candidate: str) -> None:
    banner(f"5. serve digits-cnn@{candidate} locally (Open Inference Protocol v2) and send real requests")
    port = _free_port()
    print(f"$ mlops serve digits-cnn@{candidate} --port {port}")
    server = subprocess.Popen([sys.executable, "-m", "mlops", "serve", f"digits-cnn@{candidate}", "--port", str(port),
                               "--threads", "1"], cwd=WORK)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                _http(f"{base}/v2/health/ready")
                break
            except OSError:
                if server.poll() is not None:
                    sys.exit("demo: the server exited before it was ready")
                time.sleep(0.3)
        else:
            sys.exit("demo: the server was not ready within 120 s")
        rows = (WORK / "data" / "digits" / "digits.csv").read_text().splitlines()[1:9]
        correct = 0
        for i, row in enumerate(rows):
            *pixels, label = row.split(",")
            reply = _http(f"{base}/v2/models/digits-cnn/infer", {
                "id": f"demo-{i}",
                "inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 64], "data": [float(p) for p in pixels]}],
            })
            scores = reply["outputs"][0]["data"]
            predicted = max(range(len(scores)), key=scores.__getitem__)
            correct += predicted == int(label)
            print(f"  request {reply.get('id')}: predicted {predicted}, label {label}")
        print(f"  {correct}/{len(rows)} correct")
        metrics = str(_http(f"{base}/metrics"))
        wanted = ("mlops_serve_requests_total", "mlops_serve_batch_size_count", "mlops_model_info")
        shown = [line for line in metrics.splitlines() if line.startswith(wanted)]
        print("  /metrics: " + "\n            ".join(shown[:4]))
    finally:
        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=60)
        print(f"  SIGTERM → drained and exited with {code}")


def main() -> int:
    started = time.monotonic()
    step_validate_and_render()
    pins = step_bootstrap()
    candidate = step_propose(pins["digits-cnn"])
    step_merge(candidate)
    step_serve(candidate)
    banner(f"done in {time.monotonic() - started:.0f} s")
    print(f"  sandbox repository: {WORK.relative_to(ROOT)}   bare remote: {ORIGIN.relative_to(ROOT)}")
    print(f"  pull request, comment, status: {(WORK / '.mlops' / 'forge').relative_to(ROOT)}")
    print(f"  manifests: {(DEMO / 'manifests').relative_to(ROOT)}   report: {(DEMO / 'report.md').relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

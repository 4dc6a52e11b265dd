"""The demo: the framework's loop on one machine, run by ``scripts/demo``.

Everything is real and local: a sandbox clone of this repository with a bare git remote
(``.mlops/demo/origin.git``), the DVC directory remote of this checkout (``.mlops/dvc-remote``), the
local forge (pull requests, comments and statuses as JSON under the sandbox's ``.mlops/forge/``) and a
local ``mlops serve`` process. The checkout you run it from is only read.

  1. validate this repository and render every environment;
  2. bootstrap: clone into the sandbox, train digits-cnn on main (briefly, so the change below is a clear
     improvement), pin it, and deploy dev and staging locally (`mlops serve` behind each port);
  3. propose: a branch that widens digits-cnn, a pull request, validate --base, train, record,
     evaluate against every environment, the report (one PR comment) and the mlops/gates status;
  4. merge on the forge, pin the new version in dev, deploy dev (the switch drops no request) and send requests;
  5. promote: the promotion PR into staging (evidence, 95 % intervals) merges by policy; staging switches under
     load without a failed request;
  6. a deliberately broken version (its answers are NaN) fails its smoke test in dev, is rolled back at once, and
     the revert PR is merged by dev's policy;
  7. the scheduled monitor: dev's traffic drifts (inverted images) and their labels arrive → `mlops monitor` opens
     a retraining PR with a new data version, which the PR loop trains, evaluates and reports in a checkout of its
     own (alongside step 8, as the PR workflow would run beside the monitor);
  8. a version that did well offline but answers badly live: its delayed labels → `mlops monitor` rolls it back
     and the revert PR is merged by dev's policy.

The sandbox acts on the first bad window (monitoring.hysteresis 1, every request logged); the examples keep 2.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / ".mlops" / "demo"
WORK = DEMO / "work"
ORIGIN = DEMO / "origin.git"
TRAIN_FLAGS = ("--threads", "2")
RETRAIN_BRANCH = "mlops/retrain/digits-cnn"
PR_CHECKOUT = DEMO / "pr-checkout"
GIT_ENV = {"GIT_AUTHOR_NAME": "mlops demo", "GIT_AUTHOR_EMAIL": "demo@mlops.invalid",
           "GIT_COMMITTER_NAME": "mlops demo", "GIT_COMMITTER_EMAIL": "demo@mlops.invalid"}


_held = threading.local()  # the lines of work that runs alongside the next step, printed when it is joined


def say(text: str) -> None:
    lines = getattr(_held, "lines", None)
    if lines is None:
        print(text, flush=True)
    else:
        lines.append(text)


def banner(text: str) -> None:
    say(f"\n\033[1m━━ {text}\033[0m" if sys.stdout.isatty() else f"\n== {text}")


def mlops(*argv: str, cwd: Path = WORK, check: bool = True, quiet: bool = False) -> subprocess.CompletedProcess[str]:
    say(f"$ mlops {' '.join(argv)}")
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "mlops", *argv], cwd=cwd, text=True, capture_output=quiet,
                          env={**os.environ, "GITHUB_ACTIONS": "", "GITHUB_TOKEN": ""})
    if check and proc.returncode != 0:
        if quiet:
            say(f"{proc.stdout}\n{proc.stderr}")
        sys.exit(f"demo: `mlops {' '.join(argv)}` failed with exit code {proc.returncode}")
    if os.environ.get("DEMO_TIMES"):
        say(f"  ({time.monotonic() - started:.1f} s)")
    return proc


def git(*argv: str, cwd: Path = WORK) -> str:
    proc = subprocess.run(["git", *argv], cwd=cwd, text=True, capture_output=True, env={**os.environ, **GIT_ENV})
    if proc.returncode != 0:
        sys.exit(f"demo: git {' '.join(argv)} failed: {proc.stderr.strip()}")
    return proc.stdout.strip()


def dvc(*argv: str, cwd: Path = WORK) -> None:
    exe = Path(sys.executable).with_name("dvc")
    subprocess.run([str(exe), *argv], cwd=cwd, check=True, stdout=subprocess.DEVNULL)


def set_pin(env: str, model: str, version: str) -> None:
    """Pin ``model`` at ``version`` in environments/<env>.yaml, keeping the file's comments and layout."""
    from mlops.deploy.pin import set_pin as edit

    path = WORK / "environments" / f"{env}.yaml"
    path.write_text(edit(path.read_text(), str(path), model, version))


def train(model: str, *extra: str, cwd: Path = WORK) -> str:
    out = mlops("train", model, *TRAIN_FLAGS, *extra, "--json", quiet=True, cwd=cwd).stdout
    result: dict[str, Any] = json.loads(out)
    metrics = ", ".join(f"{k} {v:.4f}" for k, v in sorted(result.get("metrics", {}).items()))
    say(f"  trained {model}@{result['version']}  {result.get('digest', '')[:19]}…  {metrics}")
    return str(result["version"])


def step_validate_and_render() -> None:
    banner("1. validate this repository and render every environment")
    mlops("validate", cwd=ROOT)
    mlops("render", "--repo", str(ROOT), "--out", str(DEMO / "manifests-main"), cwd=ROOT)


def step_bootstrap() -> dict[str, str]:
    banner("2. bootstrap a sandbox: bare git remote, DVC remote, trained models pinned, dev and staging deployed")
    stop_serving()
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
    spec = WORK / "models" / "digits-cnn" / "model.yaml"  # act on the first bad window; log every request
    spec.write_text(spec.read_text().replace("  hysteresis: 2\n", "  hysteresis: 1\n")
                    .replace("sample_rate: 0.2,", "sample_rate: 1.0,"))
    dvc("remote", "modify", "--local", "local", "url", str(ROOT / ".mlops" / "dvc-remote"))
    dvc("pull", "--quiet")
    git("add", "-A")
    git("commit", "-qm", "Initial import")
    print(f"  sandbox {WORK.relative_to(ROOT)} → origin {ORIGIN.relative_to(ROOT)}; data pulled from the DVC remote")
    pins = {"digits-cnn": train("digits-cnn", "--epochs", "1")}
    for env in ("dev", "staging", "prod"):
        set_pin(env, "digits-cnn", pins["digits-cnn"])
    git("add", "-A")
    git("commit", "-qm", "Train the example models and pin them")
    git("push", "-q", "origin", "main")
    mlops("validate")
    with ThreadPoolExecutor(2) as pool:  # two environments, two sets of processes: side by side
        list(pool.map(deploy, ("dev", "staging")))
    return pins


def deploy(env: str, *, check: bool = True) -> dict[str, Any]:
    out = DEMO / f"deploy-{env}.json"
    proc = mlops("deploy", "--env", env, "--json", check=False, quiet=True)
    out.write_text(proc.stdout)
    result: dict[str, Any] = json.loads(proc.stdout) if proc.stdout.startswith("{") else {}
    for line in proc.stderr.splitlines():
        print(f"  {line.removeprefix('mlops deploy: ')}")
    if check and proc.returncode != 0:
        sys.exit(f"demo: mlops deploy --env {env} failed: {proc.stderr.strip()[-400:]}")
    return result


def stop_serving() -> None:
    """Stop what an earlier run of the demo left serving (the sandbox's environments)."""
    if WORK.exists():
        from mlops.adapters.serving.local import LocalServing

        for env in ("dev", "staging"):
            LocalServing(WORK).stop(env)


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
    mlops("evaluate", "digits-cnn", "--against", "dev", "--against", "staging", "--against", "prod", "--json-dir",
          str(verdicts), check=False, quiet=True)
    for env in ("dev", "staging", "prod"):
        verdict = json.loads((verdicts / f"digits-cnn--{env}.json").read_text())
        print(f"  {env:8s} {'pass' if verdict['passed'] else 'FAIL'} (baseline {baseline})")
    report = DEMO / "report.md"
    mlops("report", "--verdicts", str(verdicts), "--base", "main", "--out", str(report), quiet=True)
    mlops("report", "--status", "--verdicts", str(verdicts), "--sha", git("rev-parse", "HEAD"), quiet=True)
    print(f"\n{report.read_text()}\n")
    print(f"  the comment is stored in {(WORK / '.mlops' / 'forge').relative_to(ROOT)} and printed above;"
          f" markdown: {report.relative_to(ROOT)}")
    return candidate


def step_merge(candidate: str) -> None:
    banner("4. merge on the forge (review = governance), pin the new version in dev, deploy dev, send requests")
    from mlops.adapters.forge.local import LocalForge

    git("checkout", "-q", "main")
    forge = LocalForge(WORK)
    pr = forge.get_pr(1)
    forge.review_as(1, "alice")
    print(f"  alice approved #1; merged: {forge.merge_pr(1, pr.head_sha, 'Merge pull request #1')[:12]}")
    git("pull", "-q", "--ff-only", "origin", "main")
    set_pin("dev", "digits-cnn", candidate)
    git("commit", "-qam", f"Pin digits-cnn@{candidate} in dev")
    git("push", "-q", "origin", "main")
    mlops("render", "--env", "dev", "--out", str(DEMO / "manifests"), quiet=True)
    result = deploy("dev")
    send_requests(port("dev"), 6)
    print(f"  dev: {result['result']['models'][0]['previous']} → {candidate}; manifests in "
          f"{(DEMO / 'manifests' / 'dev').relative_to(ROOT)}")


def step_promote(candidate: str) -> None:
    banner("5. promote into staging: the promotion PR merges by policy; staging switches under load")
    proc = mlops("promote", "--from-deploy", str(DEMO / "deploy-dev.json"), quiet=True)
    print("  " + proc.stdout.strip())
    git("pull", "-q", "--ff-only", "origin", "main")
    with Load("staging") as load:
        deploy("staging")
    print(f"  staging switched under load: {load.total} requests, {load.failed} failed ({dict(load.versions)})")
    if load.failed:
        sys.exit("demo: requests failed during the switch")


def step_broken(candidate: str) -> None:
    banner("6. a broken version (NaN answers) fails its smoke test in dev and is rolled back")
    broken = made_version(candidate, nan=True)
    set_pin("dev", "digits-cnn", broken)
    git("add", "-A")
    git("commit", "-qm", f"Pin digits-cnn@{broken} in dev")
    git("push", "-q", "origin", "main")
    result = deploy("dev", check=False)
    print(f"  failure: {result['result']['failure']}")
    git("pull", "-q", "--ff-only", "origin", "main")
    serving = json.loads(mlops("deploy", "--env", "dev", "--json", quiet=True).stdout)["result"]["models"][0]
    print(f"  dev serves {serving['version']} again (pinned in git too: {serving['version'] == candidate})")


def made_version(base: str, *, nan: bool) -> str:
    """A version built here, with ``base``'s record metrics: ``nan`` — its standardisation divides by zero (it loads
    and warms up, and answers NaN); otherwise untrained weights behind a correct standardisation (it answers, badly:
    a stand-in for a version that did well offline and does badly live)."""
    import numpy as np
    import torch
    import yaml

    from mlops.adapters.artifacts import default_store
    from mlops.adapters.artifacts.signature import Signature
    from mlops.core.lineage import hash_artifact, version_id
    from mlops.core.repo import load_repository
    from mlops.train.export import InferenceModule, write_program
    from mlops.train.record import finalize
    from mlops.train.usercode import build

    repo = load_repository(WORK, only_models={"digits-cnn"})
    spec, record = repo.model("digits-cnn"), repo.records["digits-cnn"][base].spec
    torch.manual_seed(0 if nan else 1)
    net = build("digits-cnn", WORK / "models/digits-cnn/model.py", dict(spec.params), 64, 10, "model.py")
    work = DEMO / ("broken" if nan else "lookalike")
    shutil.rmtree(work, ignore_errors=True)
    signature = Signature.build("digits-cnn", "classification", "input", list(spec.data.features), list(range(10)))
    mean, std = (np.zeros(64, np.float32),) * 2 if nan else (np.full(64, 5.0, np.float32), np.full(64, 6.0, np.float32))
    write_program(work, InferenceModule(net, mean, std), signature)
    (work / "metrics.json").write_text(json.dumps({"metrics": record.metrics}) + "\n")
    (work / "MODEL_CARD.md").write_text("# digits-cnn (deliberately bad, for the demo)\n")
    digest, files = hash_artifact(work)
    version = version_id(digest, datetime.now(UTC))
    uri = default_store(WORK).put("digits-cnn", version, work)
    body = {**yaml.safe_load((WORK / f"models/digits-cnn/versions/{base}.yaml").read_text()), "version": version,
            "parent": base, "artifact": {"digest": digest, "uri": uri, "files": files, "format": "torch.export-pt2"}}
    body.pop("record_digest")
    _, text = finalize(body)
    (WORK / f"models/digits-cnn/versions/{version}.yaml").write_text(text)
    what = "standardised by a zero std, so every answer is NaN" if nan else \
        f"untrained weights behind {base}'s record (its metrics say accuracy {record.metrics['accuracy']:.3f})"
    print(f"  built digits-cnn@{version}: {what}")
    return version


def step_drift() -> Future[list[str]]:
    """Drifted traffic and its labels → the monitor opens a retraining PR; the PR loop then runs on it in a checkout
    of its own (as the PR workflow would), alongside the next step."""
    banner("7. the monitor: dev's traffic drifts, labels arrive → a retraining PR, trained and reported by the PR loop")
    from mlops.adapters.forge.local import LocalForge

    x, y = digits_rows(300, seed=7)
    keys = send_batches(port("dev"), [[16.0 - v for v in row] for row in x], "drift")  # inverted images
    ingest(keys, y, "drift")
    monitor_dev()
    pr = LocalForge(WORK).find_open_pr(RETRAIN_BRANCH, "main")
    if pr is None:
        sys.exit("demo: the monitor opened no retraining PR")
    say(f"  retraining PR #{pr.number}: {pr.title}; its PR loop runs in {PR_CHECKOUT.relative_to(ROOT)} "
        "alongside step 8 (printed after it)")
    return ThreadPoolExecutor(1).submit(held, retrain_pr_loop, pr.number)


def held(work: Callable[..., None], *args: Any) -> list[str]:
    """Run ``work`` with its output held back; the lines are returned for printing later."""
    _held.lines = []
    try:
        work(*args)
    except SystemExit as exc:
        _held.lines.append(str(exc.code))
        raise SystemExit("\n".join(_held.lines)) from None
    return list(_held.lines)


def retrain_pr_loop(number: int) -> None:
    """The PR workflow on the retraining PR: a fresh checkout of its branch, its data pulled from the DVC remote,
    validate against main, train, push the version record, evaluate against dev, the report and the status."""
    banner(f"7b. the PR loop on retraining PR #{number} (its own checkout; ran alongside step 8)")
    shutil.rmtree(PR_CHECKOUT, ignore_errors=True)
    git("clone", "-q", "--branch", RETRAIN_BRANCH, str(ORIGIN), str(PR_CHECKOUT), cwd=DEMO)
    shutil.copy2(WORK / ".dvc" / "config.local", PR_CHECKOUT / ".dvc" / "config.local")  # the DVC remote
    (PR_CHECKOUT / ".mlops").mkdir(exist_ok=True)
    (PR_CHECKOUT / ".mlops" / "forge").symlink_to(WORK / ".mlops" / "forge")  # one forge, as on GitHub
    dvc("pull", "--quiet", "data.dvc", cwd=PR_CHECKOUT)
    mlops("validate", "--base", "origin/main", cwd=PR_CHECKOUT)
    version = train("digits-cnn", cwd=PR_CHECKOUT)
    git("add", "-A", cwd=PR_CHECKOUT)
    git("commit", "-qm", f"Version record digits-cnn@{version}", cwd=PR_CHECKOUT)
    git("push", "-q", "origin", RETRAIN_BRANCH, cwd=PR_CHECKOUT)
    verdicts = DEMO / "verdicts-retrain"
    shutil.rmtree(verdicts, ignore_errors=True)
    mlops("evaluate", "digits-cnn", "--against", "dev", "--json-out", str(verdicts / "digits-cnn--dev.json"),
          check=False, quiet=True, cwd=PR_CHECKOUT)
    verdict = json.loads((verdicts / "digits-cnn--dev.json").read_text())
    report = DEMO / "report-retrain.md"
    mlops("report", "--verdicts", str(verdicts), "--base", "origin/main", "--out", str(report), quiet=True,
          cwd=PR_CHECKOUT)
    mlops("report", "--status", "--verdicts", str(verdicts), "--sha", git("rev-parse", "HEAD", cwd=PR_CHECKOUT),
          quiet=True, cwd=PR_CHECKOUT)
    say(f"  dev {'pass' if verdict['passed'] else 'FAIL'}; the report is PR #{number}'s comment "
        f"({report.relative_to(ROOT)}); reviewers decide whether it ships")


def step_bad_live(candidate: str) -> None:
    banner("8. a version that did well offline answers badly live: its delayed labels → the monitor rolls it back")
    bad = made_version(candidate, nan=False)
    set_pin("dev", "digits-cnn", bad)
    git("add", "-A")
    git("commit", "-qm", f"Pin digits-cnn@{bad} in dev")
    git("push", "-q", "origin", "main")
    deploy("dev")
    x, y = digits_rows(300, seed=8)
    ingest(send_batches(port("dev"), x, "live"), y, "live")
    monitor_dev()
    git("pull", "-q", "--ff-only", "origin", "main")
    serving = json.loads(mlops("deploy", "--env", "dev", "--json", quiet=True).stdout)["result"]["models"][0]
    print(f"  dev serves {serving['version']} again (pinned in git too: {serving['version'] == candidate})")


def digits_rows(n: int, seed: int) -> tuple[list[list[float]], list[int]]:
    import random

    rows = (WORK / "data" / "digits" / "digits.csv").read_text().splitlines()[1:]
    picked = random.Random(seed).sample(rows, n)
    x = [[float(v) for v in row.split(",")[:64]] for row in picked]
    return x, [int(row.split(",")[64]) for row in picked]


def send_batches(at: int, x: list[list[float]], prefix: str, batch: int = 25) -> list[tuple[str, int]]:
    """Requests of ``batch`` rows each (every row is logged with its request id and row index)."""
    keys = []
    for k in range(0, len(x), batch):
        chunk = x[k:k + batch]
        rid = f"{prefix}-{k // batch}"
        _http(f"http://127.0.0.1:{at}/v2/models/digits-cnn/infer", {"id": rid, "inputs": [
            {"name": "input", "datatype": "FP32", "shape": [len(chunk), 64], "data": [v for r in chunk for v in r]}]})
        keys += [(rid, i) for i in range(len(chunk))]
    print(f"  {len(x)} rows in {len(x) // batch} requests to port {at}")
    time.sleep(0.6)  # the prediction log is written every 0.2 s
    return keys


def ingest(keys: list[tuple[str, int]], labels: list[int], name: str) -> None:
    path = DEMO / f"labels-{name}.csv"
    rows = "".join(f"{r},{i},{y}\n" for (r, i), y in zip(keys, labels, strict=True))
    path.write_text("request_id,row,label\n" + rows)
    mlops("labels", "ingest", str(path), "--model", "digits-cnn", "--env", "dev", quiet=True)
    print(f"  {len(keys)} delayed labels ingested for dev")


def monitor_dev() -> None:
    proc = mlops("monitor", "--env", "dev", "--model", "digits-cnn", quiet=True)
    for line in (proc.stderr + proc.stdout).splitlines():
        print(f"  {line.removeprefix('mlops monitor: ')}")


def port(env: str) -> int:
    text = (WORK / "environments" / f"{env}.yaml").read_text()
    return int(re.search(r"digits-cnn: (\d+)", text.split("ports:")[1]).group(1))  # type: ignore[union-attr]


def send_requests(at: int, n: int) -> None:
    rows = (WORK / "data" / "digits" / "digits.csv").read_text().splitlines()[1:n + 1]
    correct = 0
    for i, row in enumerate(rows):
        *pixels, label = row.split(",")
        reply = _http(f"http://127.0.0.1:{at}/v2/models/digits-cnn/infer", {
            "id": f"demo-{i}",
            "inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 64], "data": [float(p) for p in pixels]}],
        })
        scores = reply["outputs"][0]["data"]
        correct += max(range(len(scores)), key=scores.__getitem__) == int(label)
    print(f"  {n} requests to port {at}: {correct}/{n} correct")


class Load:
    """Requests to an environment's port from two threads while a switch happens; counts failures."""

    def __init__(self, env: str, seconds: float = 0.5) -> None:
        import threading

        self.url = f"http://127.0.0.1:{port(env)}/v2/models/digits-cnn/infer"
        self.stop, self.seconds = threading.Event(), seconds
        self.total = self.failed = 0
        self.versions: dict[str, int] = {}
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(2)]

    def _run(self) -> None:
        body = {"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 64], "data": [1.0] * 64}]}
        while not self.stop.is_set():
            try:
                version = str(_http(self.url, body).get("model_version"))
                failed = 0
            except OSError:
                version, failed = "-", 1
            with self.lock:
                self.total += 1
                self.failed += failed
                self.versions[version] = self.versions.get(version, 0) + 1

    def __enter__(self) -> Load:
        for t in self.threads:
            t.start()
        time.sleep(self.seconds)
        return self

    def __exit__(self, *exc: object) -> None:
        time.sleep(self.seconds)
        self.stop.set()
        for t in self.threads:
            t.join(30)


def _http(url: str, body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        raw = resp.read().decode()
    return json.loads(raw) if raw.startswith(("{", "[")) else raw


def main() -> int:
    started = time.monotonic()
    step_validate_and_render()
    pins = step_bootstrap()
    try:
        candidate = step_propose(pins["digits-cnn"])
        step_merge(candidate)
        step_promote(candidate)
        step_broken(candidate)
        pr_loop = step_drift()
        step_bad_live(candidate)
        for line in pr_loop.result():
            print(line, flush=True)
    finally:
        stop_serving()
    banner(f"done in {time.monotonic() - started:.0f} s")
    print(f"  sandbox repository: {WORK.relative_to(ROOT)}   bare remote: {ORIGIN.relative_to(ROOT)}")
    print(f"  pull requests, comments, statuses, deployments: {(WORK / '.mlops' / 'forge').relative_to(ROOT)}")
    print(f"  manifests: {(DEMO / 'manifests').relative_to(ROOT)}   report: {(DEMO / 'report.md').relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

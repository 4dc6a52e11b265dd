"""Local delivery: each pinned model behind its stable port, served by ``mlops serve`` processes on this machine.

Per (environment, model), ``.mlops/serving/<env>/<model>.json`` holds the router (:mod:`.proxy`, listening on the
environment's port for the model) and the backend it forwards to (an ``mlops serve MODEL@VERSION`` process on a
free port). A new version is started beside the old one, checked ready, then the router's state file is
replaced (one atomic rename): new requests go to the new backend while the old one finishes what it has, and is
stopped only once the router reports none of its requests in flight. Processes run detached, so the environment
keeps serving after the command ends; a later command finds them through the state (and checks that each pid
is still the process it started).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

from mlops.adapters.serving import Outcome, Release, Serving, ServingError
from mlops.core.atomic import write_text

STATE_DIR = Path(".mlops") / "serving"
STATUS = "/-/mlops/status"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _alive(pid: int | None, marker: str) -> bool:
    """Whether ``pid`` runs and is the process we started (its command line holds ``marker``)."""
    if not pid:
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return False
    return marker in cmdline


def _stop(pid: int | None, marker: str, *, timeout_s: float = 30.0) -> None:
    """SIGTERM (the server drains), then SIGKILL after ``timeout_s``."""
    if not _alive(pid, marker):
        return
    assert pid is not None
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while _alive(pid, marker) and time.monotonic() < deadline:
        time.sleep(0.05)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
    if _alive(pid, marker):
        os.kill(pid, signal.SIGKILL)


class LocalServing:
    """The local ServingTarget for the repository at ``root``."""

    def __init__(self, root: Path, *, python: str = sys.executable) -> None:
        self.root = root.resolve()
        self.python = python
        self._http = httpx.Client(timeout=httpx.Timeout(30.0, connect=2.0))

    def close(self) -> None:
        self._http.close()

    # -- state ------------------------------------------------------------------------------------------------

    def _dir(self, env: str) -> Path:
        return self.root / STATE_DIR / env

    def _state_file(self, env: str, model: str) -> Path:
        return self._dir(env) / f"{model}.json"

    def _state(self, env: str, model: str) -> dict[str, Any]:
        try:
            data = json.loads(self._state_file(env, model).read_text("utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _save(self, env: str, model: str, state: Mapping[str, Any]) -> None:
        write_text(self._state_file(env, model), json.dumps(state, indent=2, sort_keys=True) + "\n")

    # -- processes ----------------------------------------------------------------------------------------------

    def _spawn(self, argv: list[str], log: Path) -> subprocess.Popen[bytes]:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            return subprocess.Popen([self.python, "-I", *argv], cwd=self.root, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)

    def _get(self, url: str) -> httpx.Response | None:
        try:
            return self._http.get(url, timeout=2.0)
        except httpx.HTTPError:
            return None

    def _wait(self, what: str, check: Any, proc: subprocess.Popen[bytes], log: Path, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if check():
                return
            if proc.poll() is not None:
                tail = log.read_text("utf-8", errors="replace").strip().splitlines()[-3:] if log.is_file() else []
                raise ServingError(f"{what} exited before it was ready: {' | '.join(tail) or 'no output'} "
                                   f"(log: {log})")
            time.sleep(0.1)
        raise ServingError(f"{what} was not ready after {timeout_s:.0f} s (log: {log})")

    def _router(self, release: Release, state: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        """The router for the release's port, started when it does not run."""
        router = dict(state.get("router") or {})
        marker = "mlops.adapters.serving.proxy"
        if router.get("port") == release.port and _alive(router.get("pid"), marker):
            return router
        _stop(router.get("pid"), marker)
        log = self._dir(release.environment) / f"{release.model}-router.log"
        state_file = self._state_file(release.environment, release.model)
        proc = self._spawn(["-m", marker, str(state_file), str(release.port)], log)
        url = f"http://127.0.0.1:{release.port}{STATUS}"
        self._wait(f"the router on port {release.port}", lambda: self._get(url) is not None, proc, log, timeout_s)
        return {"pid": proc.pid, "port": release.port}

    def _status(self, port: int) -> dict[str, Any]:
        response = self._get(f"http://127.0.0.1:{port}{STATUS}")
        return response.json() if response is not None and response.status_code == 200 else {}

    # -- the ServingTarget seam --------------------------------------------------------------------------------

    def deploy(self, release: Release, *, timeout_s: float) -> Outcome:
        started = time.monotonic()
        env, model = release.environment, release.model
        state = self._state(env, model)
        old = dict(state.get("backend") or {})
        serve_marker = f"{model}@"
        steps: list[str] = []
        if old.get("version") == release.version and _alive(old.get("pid"), serve_marker) and self.ready(release):
            return Outcome(release, False, old.get("version"), time.monotonic() - started, ["already serving"])
        port = _free_port()
        log = self._dir(env) / f"{model}-{release.version}.log"
        proc = self._spawn(["-m", "mlops", "serve", f"{model}@{release.version}", "--repo", str(self.root),
                            "--env", env, "--port", str(port)], log)
        pid = proc.pid
        steps.append(f"started {model}@{release.version} (pid {pid}, port {port})")
        ready_url = f"http://127.0.0.1:{port}/v2/health/ready"
        try:
            self._wait(f"{model}@{release.version}", lambda: (r := self._get(ready_url)) is not None and
                       r.status_code == 200, proc, log, timeout_s)
        except ServingError:
            _stop(pid, serve_marker, timeout_s=5)
            raise
        steps.append("ready")
        backend = {"pid": pid, "port": port, "version": release.version, "digest": release.digest}
        state = {**state, "backend": backend, "previous": old or None, "environment": env, "model": model}
        self._save(env, model, state)  # the switch: the router reads this file on its next request
        state["router"] = self._router(release, state, timeout_s)
        self._save(env, model, state)
        deadline = time.monotonic() + timeout_s
        while self._status(release.port).get("backend", {}).get("port") != port:
            if time.monotonic() > deadline:
                raise ServingError(f"the router on port {release.port} did not switch to {release.version}")
            time.sleep(0.05)
        steps.append(f"traffic on port {release.port} moved to {release.version}")
        if old.get("pid"):
            while self._status(release.port).get("inflight", {}).get(str(old.get("port")), 0) > 0 and \
                    time.monotonic() < deadline:
                time.sleep(0.05)
            _stop(old.get("pid"), serve_marker)
            steps.append(f"drained and stopped {old.get('version')}")
        return Outcome(release, True, old.get("version"), time.monotonic() - started, steps)

    def infer(self, release: Release, body: Mapping[str, Any], *, timeout_s: float = 30.0) -> tuple[int, Any]:
        url = f"http://127.0.0.1:{release.port}/v2/models/{release.model}/infer"
        try:
            response = self._http.post(url, json=dict(body), timeout=timeout_s)
        except httpx.HTTPError as exc:
            raise ServingError(f"{release.model} on port {release.port}: {type(exc).__name__}") from None
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, response.text

    def ready(self, release: Release) -> bool:
        response = self._get(f"http://127.0.0.1:{release.port}/v2/health/ready")
        return response is not None and response.status_code == 200

    def current(self, environment: str, model: str) -> Serving:
        state = self._state(environment, model)
        backend, router = state.get("backend") or {}, state.get("router") or {}
        if not backend or not _alive(backend.get("pid"), f"{model}@"):
            return Serving(model, None, detail="not running")
        return Serving(model, backend.get("version"), f"http://127.0.0.1:{router.get('port')}",
                       f"pid {backend.get('pid')}")

    def prune(self, environment: str, keep: Sequence[str], namespace: str = "") -> list[str]:
        removed = []
        for path in sorted(self._dir(environment).glob("*.json")):
            model = path.stem
            if model in keep:
                continue
            state = self._state(environment, model)
            _stop((state.get("backend") or {}).get("pid"), f"{model}@")
            _stop((state.get("router") or {}).get("pid"), "mlops.adapters.serving.proxy")
            path.unlink(missing_ok=True)
            removed.append(f"{model} stopped")
        return removed

    def stop(self, environment: str) -> list[str]:
        """Stop everything of ``environment`` (the demo's and the tests' clean-up)."""
        return self.prune(environment, ())

"""The ASGI application: Open Inference Protocol v2 REST endpoints and ``/metrics``.

A raw ASGI callable (no framework): on two cores every microsecond of the request path shows in the
throughput. States: ``starting`` (live, not ready: loading and warming up) → ``ready`` → ``draining``
(after SIGTERM: not ready, new inference requests get 503 with ``Retry-After``, admitted ones finish).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from mlops import __version__
from mlops.serve.batcher import Batcher, InferenceFailed, Overloaded, Stopped
from mlops.serve.metrics import Metrics
from mlops.serve.predictor import Signature, metadata_tensors
from mlops.serve.predlog import PredictionLog
from mlops.serve.protocol import ProtocolError, Schema, decode_infer, encode, encode_infer

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

JSON = b"application/json"
MAX_BODY = 4 << 20
STARTING, READY, DRAINING = "starting", "ready", "draining"


class App:
    def __init__(self, model: str, version: str, metrics: Metrics, predlog: PredictionLog | None = None,
                 max_body: int = MAX_BODY, max_lag_ms: float = 25.0) -> None:
        self.model, self.version, self.metrics, self.predlog = model, version, metrics, predlog
        self.max_body = max_body
        self.max_lag = max_lag_ms / 1000
        self.lag = 0.0  # how late the event loop runs its timers: the wait of a request not yet read
        self.state = STARTING
        self.signature: Signature | None = None
        self.schema: Schema | None = None
        self.batcher: Batcher | None = None
        self.inflight = 0
        self.admitted = 0  # inference requests past the readiness and overload checks
        self.answered = 0  # ... and answered (any status)
        self._idle = asyncio.Event()
        self._idle.set()
        self._ids = itertools.count(1)
        self._id_prefix = os.urandom(4).hex()
        self._shed = {lagging: _message(429, {"error": f"server is overloaded ({busy} full); retry later"},
                                        [(b"retry-after", b"1")])
                      for lagging, busy in ((True, "event loop"), (False, "queue"))}
        metrics.ready.set(0)

    # --- lifecycle (called by the server) ------------------------------------------------------------------

    def set_ready(self, signature: Signature, batcher: Batcher) -> None:
        self.signature, self.schema, self.batcher = signature, Schema.of(signature), batcher
        self.state = READY
        self.metrics.ready.set(1)

    def begin_drain(self) -> None:
        self.state = DRAINING
        self.metrics.ready.set(0)

    async def drained(self) -> None:
        """Return once every admitted inference request has been answered."""
        await self._idle.wait()

    async def watch_lag(self, interval: float = 0.005) -> None:
        """Measure event-loop lag forever. A saturated loop reads requests late; past ``max_lag``, with at least a
        full batch already in flight, the app refuses new ones at once (429, before decoding): cheap enough to
        bring the lag back down. (With less than a batch in flight, the lag is not ours to shed: a noisy
        neighbour, a pause.)"""
        loop = asyncio.get_running_loop()
        recent = [0.0, 0.0, 0.0]
        while True:
            before = loop.time()
            await asyncio.sleep(interval)
            recent.append(max(0.0, loop.time() - before - interval))
            del recent[0]
            self.lag = min(recent)  # sustained, not one pause: three late ticks in a row

    # --- ASGI ---------------------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        if path.endswith("/infer") and path.startswith("/v2/models/"):
            if method != "POST":
                await self._reply(send, "infer", 405, {"error": f"{method} {path}: use POST"}, [(b"allow", b"POST")])
                return
            name, version = _model_path(path[len("/v2/models/"):-len("/infer")])
            problem = self._unknown_model(name, version)
            if problem:
                await self._refuse(send, 404, "not_found", problem)
            else:
                await self._infer(receive, send, scope)
            return
        route, status, doc = self._route(path)
        if method not in ("GET", "HEAD"):
            status = 405 if route != "unknown" else 404
            await self._reply(send, route, status, {"error": f"{method} {path}: not allowed; expected GET"},
                              [(b"allow", b"GET")])
            return
        if route == "metrics":
            body = self.metrics.render()
            self.metrics.count(route, 200)
            await _send(send, 200, body, [(b"content-type", self.metrics.content_type.encode())])
            return
        await self._reply(send, route, status, doc)

    def _route(self, path: str) -> tuple[str, int, Any]:
        """GET routes: (route name for metrics, status, JSON document)."""
        ready = self.state == READY
        if path == "/v2/health/live":
            return "live", 200, {"live": True}
        if path == "/v2/health/ready":
            return "ready", 200 if ready else 503, {"ready": ready}
        if path == "/metrics":
            return "metrics", 200, None
        if path in ("/v2", "/v2/"):
            return "server_metadata", 200, {"name": "mlops", "version": __version__, "extensions": []}
        if not path.startswith("/v2/models/"):
            return "unknown", 404, {"error": f"no such endpoint: {path}; see /v2/models/{self.model}"}
        rest = path[len("/v2/models/"):]
        want_ready = rest.endswith("/ready")
        route = "model_ready" if want_ready else "model_metadata"
        name, version = _model_path(rest[: -len("/ready")] if want_ready else rest)
        problem = self._unknown_model(name, version)
        if problem:
            return route, 404, {"error": problem}
        if want_ready:
            return route, 200 if ready else 503, {"name": self.model, "ready": ready}
        if self.signature is None:
            return route, 503, {"error": f"model {self.model} is loading; retry when /v2/health/ready is 200"}
        inputs, outputs = metadata_tensors(self.signature)
        return route, 200, {"name": self.model, "versions": [self.version], "platform": "pytorch_torchexport",
                            "inputs": inputs, "outputs": outputs}

    def _unknown_model(self, name: str | None, version: str | None) -> str | None:
        if name is None:
            return "no such endpoint; expected /v2/models/NAME[/versions/VERSION][/ready|/infer]"
        if name != self.model:
            return f"unknown model {name!r}; this server serves {self.model!r}"
        if version and version != self.version:
            return f"unknown version {version!r} of model {self.model!r}; this server serves {self.version!r}"
        return None

    async def _reply(self, send: Send, route: str, status: int, doc: Any,
                     headers: list[tuple[bytes, bytes]] | None = None) -> None:
        self.metrics.count(route, status)
        if status >= 400:
            self.metrics.error(status, route)
        await _send(send, status, encode(doc), headers)

    # --- inference ---------------------------------------------------------------------------------------

    async def _refuse(self, send: Send, status: int, reason: str, message: str,
                      headers: list[tuple[bytes, bytes]] | None = None) -> None:
        self.metrics.count("infer", status)
        self.metrics.error(status, reason)
        await _send(send, status, encode({"error": message}), headers)

    async def _infer(self, receive: Receive, send: Send, scope: Scope) -> None:
        start = time.perf_counter()
        if self.state != READY or self.schema is None or self.batcher is None:
            draining = self.state == DRAINING
            await self._refuse(send, 503, "draining" if draining else "starting",
                               "server is shutting down" if draining else "model is warming up; not ready yet",
                               [(b"retry-after", b"1")] + ([(b"connection", b"close")] if draining else []))
            return
        lagging = self.lag > self.max_lag and self.inflight >= self.batcher.max_batch_size
        if lagging or self.batcher.depth >= self.batcher.max_queue:  # shed: the cheapest answer there is
            self.metrics.count("infer", 429)
            self.metrics.error(429, "overloaded")
            head, body = self._shed[lagging]
            await send(head)
            await send(body)
            return
        self.inflight += 1
        self.admitted += 1
        self._idle.clear()
        try:
            await self._admitted(scope, receive, send, start, self.schema, self.batcher)
            self.answered += 1
        finally:
            self.inflight -= 1
            if not self.inflight:
                self._idle.set()

    async def _admitted(self, scope: Scope, receive: Receive, send: Send, start: float, schema: Schema,
                        batcher: Batcher) -> None:
        m = self.metrics
        try:
            body = await _read_body(receive, self.max_body)
            req = decode_infer(body, schema, batcher.max_batch_size)
            decoded = time.perf_counter()
            m.stage["decode"].observe(decoded - start)
            y = await batcher.submit(req.x)
        except ProtocolError as exc:
            reason = "bad_request" if exc.status == 400 else "too_large"
            await self._refuse(send, exc.status, reason, exc.message)
            return
        except Overloaded as exc:
            await self._refuse(send, 429, "overloaded", str(exc), [(b"retry-after", str(exc.retry_after).encode())])
            return
        except Stopped as exc:
            await self._refuse(send, 503, "draining", str(exc), [(b"retry-after", b"1"), (b"connection", b"close")])
            return
        except InferenceFailed as exc:
            await self._refuse(send, 500, "inference_failed", f"inference failed: {exc}")
            return
        rid = req.id or _header(scope, b"x-request-id") or f"{self._id_prefix}-{next(self._ids)}"
        answered = time.perf_counter()
        payload = encode_infer(self.model, self.version, rid, schema, y)
        m.stage["serialisation"].observe(time.perf_counter() - answered)
        m.count("infer", 200)
        await _send(send, 200, payload)
        m.latency.observe(time.perf_counter() - start)
        if self.predlog is not None and self.predlog.sampled():
            self.predlog.offer(rid, req.x, y, time.time())


def _model_path(rest: str) -> tuple[str | None, str | None]:
    """``NAME`` or ``NAME/versions/VERSION`` → (name, version); (None, None) for anything else."""
    name, sep, version = rest.partition("/versions/")
    if not name or "/" in name or (sep and (not version or "/" in version)):
        return None, None
    return name, version or None


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))[:256] or None
    return None


async def _read_body(receive: Receive, limit: int) -> bytes:
    message = await receive()
    body: bytes = message.get("body", b"")
    if not message.get("more_body"):
        return body
    chunks = [body]
    size = len(body)
    while message.get("more_body"):
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise ProtocolError(413, f"request body: larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _message(status: int, doc: Any, headers: list[tuple[bytes, bytes]]) -> tuple[Message, Message]:
    """A whole response as its two ASGI messages, built once and sent many times."""
    body = encode(doc)
    head = [(b"content-type", JSON), (b"content-length", str(len(body)).encode()), *headers]
    return {"type": "http.response.start", "status": status, "headers": head}, {"type": "http.response.body",
                                                                                  "body": body}


async def _send(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    head = [(b"content-type", JSON), (b"content-length", str(len(body)).encode())]
    if headers:
        head = [*(h for h in head if h[0] not in {k for k, _ in headers}), *headers]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": body})

"""The server's lifecycle: listen, load, warm up, report ready, and drain on SIGTERM.

The socket is bound first, so liveness answers while the model loads; readiness turns true only after
warm-up has run every batch size the batcher can form. SIGTERM (or SIGINT) turns readiness false, answers
new inference requests with 503, waits until every admitted request is answered, then closes the
listener and connections, flushes the prediction log and returns 0.

HTTP: uvicorn with httptools on uvloop, serving the raw ASGI app (``mlops.serve.app``).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import uvicorn

from mlops.core.errors import UserError
from mlops.serve.app import App
from mlops.serve.batcher import Batcher, warmup_sizes
from mlops.serve.metrics import Metrics
from mlops.serve.predictor import Predictor, Signature
from mlops.serve.predlog import PredictionLog

log = logging.getLogger("mlops.serve")


@dataclass(frozen=True)
class Limits:
    max_batch_size: int = 32
    max_latency_ms: float = 5.0
    max_queue: int = 256
    warmup_runs: int = 2
    drain_grace_s: float = 0.0
    graceful_timeout_s: float = 30.0


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: SIGTERM first drains, then stops uvicorn."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise UserError.at("--port", f"cannot listen on {host}:{port}: {exc.strerror}; expected a free port") from None
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def say(message: str) -> None:
    print(f"mlops serve: {message}", file=sys.stderr, flush=True)


class Runtime:
    """One serving process: ``run()`` blocks until drained after SIGTERM/SIGINT (or ``request_stop()``)."""

    def __init__(self, load: Callable[[], Predictor], app: App, metrics: Metrics, predlog: PredictionLog | None,
                 limits: Limits, sock: socket.socket, check: Callable[[Signature], None] | None = None) -> None:
        self.load, self.app, self.metrics, self.predlog = load, app, metrics, predlog
        self.limits, self.sock, self.check = limits, sock, check
        self.batcher: Batcher | None = None
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def request_stop(self) -> None:
        """Thread-safe: begin draining, as SIGTERM does."""
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)

    async def serve(self, install_signals: bool = True) -> None:
        self._loop = loop = asyncio.get_running_loop()
        self._stop = stop = asyncio.Event()
        if install_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
        config = uvicorn.Config(self.app, http="httptools", ws="none", loop="none", lifespan="off", log_config=None,
                                proxy_headers=False, log_level="warning", access_log=False, server_header=False,
                                timeout_graceful_shutdown=int(self.limits.graceful_timeout_s))
        server = _Server(config)
        serving = asyncio.create_task(server.serve(sockets=[self.sock]))
        lag = asyncio.create_task(self.app.watch_lag())
        try:
            await self._start(stop)
            if not stop.is_set():
                waiter = asyncio.create_task(stop.wait())
                await asyncio.wait({waiter, serving}, return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
            say("draining: readiness is false, new requests get 503, finishing admitted ones")
            self.app.begin_drain()
            await self.app.drained()
            if self.limits.drain_grace_s > 0:
                await asyncio.sleep(self.limits.drain_grace_s)
        finally:
            lag.cancel()
            server.should_exit = True
            with contextlib.suppress(asyncio.CancelledError):
                await serving
            if self.batcher is not None:
                await asyncio.to_thread(self.batcher.stop)
            if self.predlog is not None:
                await asyncio.to_thread(self.predlog.close)
            if install_signals:
                for sig in (signal.SIGTERM, signal.SIGINT):
                    loop.remove_signal_handler(sig)
        app = self.app
        say(f"stopped: {app.answered} of {app.admitted} admitted inference requests answered")

    async def _start(self, stop: asyncio.Event) -> None:
        started = time.perf_counter()
        predictor = await asyncio.to_thread(self.load)
        sig = predictor.signature
        if self.check is not None:
            self.check(sig)
        lim = self.limits
        self.batcher = Batcher(predictor.predict, self.metrics, max_batch_size=lim.max_batch_size,
                               max_latency_ms=lim.max_latency_ms, max_queue=lim.max_queue)
        if self.predlog is not None:
            self.predlog.task, self.predlog.classes = sig.task, list(sig.classes)
        sizes = warmup_sizes(lim.max_batch_size)
        say(f"loaded in {time.perf_counter() - started:.2f} s; warming up ({len(sizes)} batch sizes "
            f"× {lim.warmup_runs} runs)")
        warm = await self.batcher.start(sizes, lim.warmup_runs, sig.input.shape[1])
        self.metrics.warmup.set(warm)
        if stop.is_set():
            return
        gc.collect()
        gc.freeze()  # what is loaded by now (torch, the model) is never rescanned: shorter GC pauses under load
        self.app.set_ready(sig, self.batcher)
        say(f"ready: model {self.app.model} version {self.app.version} (warm-up {warm:.2f} s)")


def run(runtime: Runtime) -> int:
    """Serve on uvloop until SIGTERM/SIGINT; 0 once drained."""
    import uvloop

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(runtime.serve())
    return 0

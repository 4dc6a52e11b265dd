"""Dynamic batching on one worker thread, off the event loop.

Requests are admitted into a bounded queue (``max_queue``; beyond it ``submit`` raises ``Overloaded`` and
the app answers 429 at once). The worker takes the oldest request and keeps collecting until the batch
holds ``max_batch_size`` rows, or ``max_latency_ms`` have passed since that request arrived, or the event
loop has handed over every request it had already read (a barrier callback queued behind them has run):
a lone request is not held for the whole window, and under load the batch holds all that has arrived.
While a batch runs, the next one accumulates. One forward pass per batch; its rows are split back in
order and handed to the event loop in one call.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from mlops.serve.metrics import Metrics

log = logging.getLogger("mlops.serve")
Predict = Callable[[np.ndarray], np.ndarray]


class Overloaded(Exception):
    """The queue is full: refuse now (429) rather than let latency grow without bound."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"server is overloaded: {retry_after} s until the queue drains")
        self.retry_after = retry_after


class Stopped(Exception):
    """The batcher no longer admits requests (the server is draining)."""


class InferenceFailed(Exception):
    """The model raised while predicting a batch."""


@dataclass(slots=True, eq=False)
class _Job:
    x: np.ndarray
    future: asyncio.Future[np.ndarray]
    admitted: float
    rows: int


def warmup_sizes(max_batch_size: int) -> list[int]:
    """Every batch size the batcher can form up to 128, then powers of two and the maximum."""
    sizes = set(range(1, min(max_batch_size, 128) + 1))
    sizes.update(s for s in (2 ** k for k in range(8, 13)) if s <= max_batch_size)
    sizes.add(max_batch_size)
    return sorted(sizes)


class Batcher:
    def __init__(self, predict: Predict, metrics: Metrics, *, max_batch_size: int, max_latency_ms: float,
                 max_queue: int) -> None:
        self._predict = predict
        self._metrics = metrics
        self.max_batch_size = max_batch_size
        self.max_latency = max_latency_ms / 1000
        self.max_queue = max_queue
        self._queue: deque[_Job] = deque()
        self._queued_rows = 0
        self._barrier = self._flushed = 0  # barriers posted to the event loop / run by it
        self._cv = threading.Condition(threading.Lock())
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._rate = 0.0  # rows per second of recent batches, for Retry-After
        metrics.queue_depth.set_function(lambda: len(self._queue))

    @property
    def depth(self) -> int:
        return len(self._queue)

    async def start(self, sizes: Iterable[int] = (), runs: int = 2, width: int = 1) -> float:
        """Start the worker; it first runs ``runs`` forward passes of every size in ``sizes``. Returns seconds."""
        self._loop = loop = asyncio.get_running_loop()
        warmed: asyncio.Future[float] = loop.create_future()
        self._thread = threading.Thread(target=self._main, args=(list(sizes), runs, width, warmed),
                                        name="mlops-batcher", daemon=True)
        self._thread.start()
        return await warmed

    def submit(self, x: np.ndarray) -> asyncio.Future[np.ndarray]:
        """Admit one request (``[n, ...]`` rows, n ≤ max_batch_size); its future gets its own output rows."""
        assert self._loop is not None, "Batcher.start() first"
        job = _Job(x, self._loop.create_future(), time.perf_counter(), len(x))
        with self._cv:
            if self._stopping:
                raise Stopped("the server is shutting down")
            if len(self._queue) >= self.max_queue:
                raise Overloaded(max(1, round(self._queued_rows / self._rate)) if self._rate else 1)
            self._queue.append(job)
            self._queued_rows += job.rows
            if len(self._queue) == 1 or self._queued_rows >= self.max_batch_size:
                self._cv.notify()
        return job.future

    def stop(self, timeout: float = 30.0) -> None:
        """Stop admitting; the worker finishes every admitted request, then exits."""
        with self._cv:
            self._stopping = True
            self._cv.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    # --- the worker thread -------------------------------------------------------------------------------

    def _main(self, sizes: list[int], runs: int, width: int, warmed: asyncio.Future[float]) -> None:
        assert self._loop is not None
        start = time.perf_counter()
        try:
            rng = np.random.default_rng(0)
            for size in sizes:
                x = rng.standard_normal((size, width), dtype=np.float32)
                for _ in range(runs):
                    self._predict(x)
        except BaseException as exc:  # report to the starter, which exits with the error
            self._loop.call_soon_threadsafe(_set_exception, warmed, exc)
            return
        self._loop.call_soon_threadsafe(_set_result, warmed, time.perf_counter() - start)
        while (batch := self._collect()) is not None:
            try:
                self._run(*batch)
            except Exception as exc:  # a bug, not the model: fail this batch, keep serving
                log.exception("batch of %d requests failed", len(batch[0]))
                self._loop.call_soon_threadsafe(_fail, batch[0], InferenceFailed(f"{type(exc).__name__}: {exc}"))

    def _collect(self) -> tuple[list[_Job], float] | None:
        assert self._loop is not None
        with self._cv:
            while not self._queue:
                if self._stopping:
                    return None
                self._cv.wait()
            began = time.perf_counter()
            if self._queued_rows < self.max_batch_size and not self._stopping:
                # Wait until the event loop has handed over every request it has already read (a barrier
                # callback queued behind them), the batch is full, or max_latency_ms has passed.
                self._barrier += 1
                self._loop.call_soon_threadsafe(self._flush, self._barrier)
                deadline = self._queue[0].admitted + self.max_latency
                while (self._queued_rows < self.max_batch_size and self._flushed < self._barrier
                       and not self._stopping):
                    remaining = deadline - time.perf_counter()
                    if remaining <= 0:
                        break
                    self._cv.wait(remaining)
            jobs: list[_Job] = []
            rows = 0
            while self._queue and rows + self._queue[0].rows <= self.max_batch_size:
                job = self._queue.popleft()
                rows += job.rows
                jobs.append(job)
            self._queued_rows -= rows
        return jobs, began

    def _flush(self, barrier: int) -> None:
        """Runs on the event loop after every callback queued before it: the requests it read are all in."""
        with self._cv:
            self._flushed = max(self._flushed, barrier)
            self._cv.notify()

    def _run(self, jobs: list[_Job], began: float) -> None:
        assert self._loop is not None
        t0 = time.perf_counter()
        x = jobs[0].x if len(jobs) == 1 else np.concatenate([j.x for j in jobs])
        t1 = time.perf_counter()
        try:
            y = np.asarray(self._predict(x))
            if y.shape[:1] != x.shape[:1]:
                raise ValueError(f"model returned {y.shape[0] if y.ndim else 0} rows for {len(x)}")
        except Exception as exc:
            log.exception("inference failed for a batch of %d rows", len(x))
            self._loop.call_soon_threadsafe(_fail, jobs, InferenceFailed(f"{type(exc).__name__}: {exc}"))
            return
        t2 = time.perf_counter()
        outs: list[np.ndarray] = []
        offset = 0
        for job in jobs:
            outs.append(y[offset:offset + job.rows])
            offset += job.rows
        self._loop.call_soon_threadsafe(_deliver, jobs, outs)
        m = self._metrics
        m.batch_size.observe(len(x))
        queue, batch, inference = m.stage["queue"], m.stage["batch"], m.stage["inference"]
        for job in jobs:
            queue.observe(max(0.0, began - job.admitted))
            batch.observe(t1 - max(began, job.admitted))
            inference.observe(t2 - t1)
        elapsed = time.perf_counter() - t0
        if elapsed > 0:
            self._rate = 0.8 * self._rate + 0.2 * (len(x) / elapsed) if self._rate else len(x) / elapsed


def _deliver(jobs: list[_Job], outs: list[np.ndarray]) -> None:
    for job, out in zip(jobs, outs, strict=True):
        if not job.future.done():
            job.future.set_result(out)


def _fail(jobs: list[_Job], exc: Exception) -> None:
    for job in jobs:
        if not job.future.done():
            job.future.set_exception(exc)


def _set_result(fut: asyncio.Future[float], value: float) -> None:
    if not fut.done():
        fut.set_result(value)


def _set_exception(fut: asyncio.Future[float], exc: BaseException) -> None:
    if not fut.done():
        fut.set_exception(exc)

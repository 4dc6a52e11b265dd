"""The dynamic batcher: batched results equal unbatched ones, in order; bounded queue; drain; warm-up."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest

from mlops.serve.batcher import Batcher, InferenceFailed, Overloaded, Stopped, warmup_sizes
from mlops.serve.metrics import Metrics


class Affine:
    """A deterministic model (row-wise, so batching must not change any row's result)."""

    def __init__(self, delay: float = 0.0, fail: bool = False) -> None:
        self.delay, self.fail = delay, fail
        self.sizes: list[int] = []
        self.w = np.arange(12, dtype=np.float32).reshape(4, 3) / 10

    def __call__(self, x: np.ndarray) -> np.ndarray:
        self.sizes.append(len(x))
        if self.delay:
            time.sleep(self.delay)
        if self.fail:
            raise RuntimeError("boom")
        return np.asarray(x @ self.w + 1, dtype=np.float32)


def make(model: Affine, **kw: float) -> Batcher:
    opts = {"max_batch_size": 16, "max_latency_ms": 20.0, "max_queue": 64, **kw}
    return Batcher(model, Metrics("m", "v", "sha256:" + "0" * 64, int(opts["max_batch_size"])),
                   max_batch_size=int(opts["max_batch_size"]), max_latency_ms=opts["max_latency_ms"],
                   max_queue=int(opts["max_queue"]))


def test_concurrent_requests_are_batched_and_split_back_in_order() -> None:
    model = Affine(delay=0.005)
    rng = np.random.default_rng(1)
    inputs = [rng.standard_normal((int(rng.integers(1, 4)), 4), dtype=np.float32) for _ in range(60)]

    async def main() -> list[np.ndarray]:
        batcher = make(model)
        await batcher.start()
        outs = await asyncio.gather(*(batcher.submit(x) for x in inputs))
        batcher.stop()
        return list(outs)

    outs = asyncio.run(main())
    for x, y in zip(inputs, outs, strict=True):
        np.testing.assert_allclose(y, model(x), rtol=1e-5, atol=1e-6)
    assert sum(model.sizes[: -len(inputs)]) == sum(len(x) for x in inputs)  # every row once, in batches
    assert max(model.sizes[: -len(inputs)]) > 1
    assert all(size <= 16 for size in model.sizes)


def test_a_lone_request_is_not_held_for_the_whole_window() -> None:
    async def main() -> float:
        batcher = make(Affine(), max_latency_ms=2000.0)
        await batcher.start()
        start = time.perf_counter()
        await batcher.submit(np.ones((1, 4), np.float32))
        batcher.stop()
        return time.perf_counter() - start

    assert asyncio.run(main()) < 0.5


def test_everything_the_loop_handed_over_goes_into_one_batch() -> None:
    model = Affine()

    async def main() -> None:
        batcher = make(model, max_latency_ms=2000.0)
        await batcher.start()
        futures = [batcher.submit(np.ones((1, 4), np.float32)) for _ in range(10)]  # one loop callback
        await asyncio.gather(*futures)
        batcher.stop()

    asyncio.run(main())
    assert model.sizes == [10]


def test_a_busy_loop_delays_a_batch_by_max_latency_at_most() -> None:
    calls: list[float] = []
    model = Affine()

    def timed(x: np.ndarray) -> np.ndarray:
        calls.append(time.perf_counter())
        return model(x)

    async def main() -> float:
        batcher = Batcher(timed, Metrics("m", "v", "sha256:" + "0" * 64, 8), max_batch_size=8,
                          max_latency_ms=100.0, max_queue=8)
        await batcher.start()
        start = time.perf_counter()
        future = batcher.submit(np.ones((1, 4), np.float32))
        time.sleep(0.4)  # the loop is blocked: the barrier cannot run, the deadline decides
        await future
        batcher.stop()
        return start

    start = asyncio.run(main())
    assert 0.09 < calls[0] - start < 0.35


def test_a_full_queue_refuses_at_once_and_admitted_requests_still_finish() -> None:
    model = Affine()
    gate = threading.Event()

    def held(x: np.ndarray) -> np.ndarray:
        gate.wait(10)
        return model(x)

    async def main() -> tuple[int, int]:
        batcher = Batcher(held, Metrics("m", "v", "sha256:" + "0" * 64, 4), max_batch_size=4, max_latency_ms=1,
                          max_queue=8)
        await batcher.start()
        admitted, refused = [], 0
        for _ in range(40):
            try:
                admitted.append(batcher.submit(np.ones((1, 4), np.float32)))
            except Overloaded as exc:
                assert exc.retry_after >= 1
                refused += 1
            await asyncio.sleep(0)
        gate.set()
        results = await asyncio.gather(*admitted)
        batcher.stop()
        assert all(r.shape == (1, 3) for r in results)
        return len(admitted), refused

    admitted, refused = asyncio.run(main())
    assert refused > 0 and admitted >= 8 and admitted + refused == 40


def test_stop_drains_every_admitted_request_then_refuses() -> None:
    async def main() -> None:
        batcher = make(Affine(delay=0.01), max_batch_size=2)
        await batcher.start()
        futures = [batcher.submit(np.full((1, 4), i, np.float32)) for i in range(10)]
        stopper = asyncio.get_running_loop().run_in_executor(None, batcher.stop)
        results = await asyncio.gather(*futures)
        await stopper
        column = float(Affine().w[:, 0].sum())
        np.testing.assert_allclose([float(r[0, 0]) for r in results], [i * column + 1 for i in range(10)], rtol=1e-5)
        with pytest.raises(Stopped):
            batcher.submit(np.ones((1, 4), np.float32))

    asyncio.run(main())


def test_a_failing_model_fails_its_batch_only() -> None:
    async def main() -> None:
        batcher = make(Affine(fail=True))
        await batcher.start()
        with pytest.raises(InferenceFailed, match="RuntimeError: boom"):
            await batcher.submit(np.ones((1, 4), np.float32))
        batcher.stop()

    asyncio.run(main())


def test_warm_up_runs_every_batch_size_before_start_returns() -> None:
    model = Affine()

    async def main() -> float:
        batcher = make(model)
        seconds = await batcher.start(warmup_sizes(16), runs=2, width=4)
        batcher.stop()
        return seconds

    assert asyncio.run(main()) >= 0
    assert sorted(set(model.sizes)) == list(range(1, 17)) and len(model.sizes) == 32
    assert warmup_sizes(1000) == [*range(1, 129), 256, 512, 1000]

"""Lock-free histograms exposed through prometheus-client: Prometheus semantics (le is inclusive, cumulative);
process metrics; GPU metrics only where a GPU is (a fake ``torch.cuda`` here, the real one under ``gpu``)."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from mlops.serve.metrics import FastHistogram, Metrics, TorchGpu, torch_gpu


def test_buckets_are_inclusive_upper_bounds_and_cumulative() -> None:
    hist = FastHistogram([0.1, 1.0])
    for value in (0.05, 0.1, 0.5, 1.0, 7.0):
        hist.observe(value)
    assert hist.cumulative() == [("0.1", 2.0), ("1.0", 4.0), ("+Inf", 5.0)]
    assert hist.count == 5 and abs(hist.sum - 8.65) < 1e-9


def test_exposition_parses_as_prometheus_text() -> None:
    m = Metrics("digits-cnn", "v1", "sha256:" + "a" * 64, 32)
    m.stage["inference"].observe(0.002)
    m.batch_size.observe(17)
    m.count("infer", 200)
    m.error(429, "overloaded")
    families = {f.name: f for f in text_string_to_metric_families(m.render().decode())}
    assert {"mlops_serve_requests", "mlops_serve_errors", "mlops_serve_request_seconds", "mlops_serve_stage_seconds",
            "mlops_serve_batch_size", "mlops_serve_queue_depth", "mlops_serve_ready", "mlops_model_info",
            "mlops_prediction_log_dropped"} <= set(families)
    batch = {s.labels.get("le"): s.value for s in families["mlops_serve_batch_size"].samples
             if s.name.endswith("_bucket")}
    assert batch["16.0"] == 0 and batch["24.0"] == 1 and batch["32.0"] == 1 and batch["+Inf"] == 1
    stages = {s.labels["stage"] for s in families["mlops_serve_stage_seconds"].samples}
    assert stages == {"decode", "queue", "batch", "inference", "serialisation"}
    (info,) = families["mlops_model_info"].samples
    assert info.labels == {"model": "digits-cnn", "version": "v1", "digest": "sha256:" + "a" * 64}


def _families(m: Metrics) -> dict[str, Any]:
    return {f.name: f for f in text_string_to_metric_families(m.render().decode())}


def test_process_cpu_and_memory_are_exported_for_the_monitor() -> None:
    families = _families(Metrics("digits-cnn", "v1", "sha256:" + "a" * 64, 32))
    (cpu,) = families["process_cpu_seconds"].samples
    (rss,) = families["process_resident_memory_bytes"].samples
    assert cpu.name == "process_cpu_seconds_total" and cpu.value > 0 and rss.value > 10 << 20


def test_on_cpu_no_gpu_metric_is_exported() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is visible here: the CPU path is tested where none is")
    m = Metrics("digits-cnn", "v1", "sha256:" + "a" * 64, 32)
    assert torch_gpu() is None and m.watch_gpu(torch_gpu()) is False and m.gpu is None
    assert not [name for name in _families(m) if name.startswith("mlops_gpu")]


class FakeProperties:
    total_memory = 80 << 30


class FakeCuda:
    """Stands in for ``torch.cuda`` on a machine with two GPUs: NVML answers unless ``nvml`` is False."""

    def __init__(self, nvml: bool = True, fail: str | None = None) -> None:
        self.nvml, self.fail = nvml, fail
        self.utilizations = {0: 37, 1: 0}

    def device_count(self) -> int:
        return 2

    def _nvml(self, what: str) -> None:
        if not self.nvml:
            raise ModuleNotFoundError("nvidia-ml-py does not seem to be installed or it can't be imported.")
        if self.fail == what:
            raise RuntimeError("NVML: Not Supported")

    def utilization(self, index: int) -> int:
        self._nvml("utilization")
        return self.utilizations[index]

    def device_memory_used(self, index: int) -> int:
        self._nvml("memory")
        return (index + 1) << 30

    def memory_reserved(self, index: int) -> int:
        return (index + 1) << 20

    def get_device_properties(self, index: int) -> FakeProperties:
        return FakeProperties()


def _gpu_values(m: Metrics) -> dict[tuple[str, str], float]:
    return {(s.name, s.labels["gpu"]): s.value for name, f in _families(m).items() if name.startswith("mlops_gpu")
            for s in f.samples}


def test_gpu_utilisation_and_memory_per_device_read_at_each_scrape() -> None:
    cuda = FakeCuda()
    m = Metrics("digits-cnn", "v1", "sha256:" + "a" * 64, 32)
    assert m.watch_gpu(TorchGpu(cuda)) is True and m.watch_gpu(TorchGpu(cuda)) is False  # once
    assert _gpu_values(m) == {
        ("mlops_gpu_utilization_ratio", "0"): 0.37, ("mlops_gpu_utilization_ratio", "1"): 0.0,
        ("mlops_gpu_memory_used_bytes", "0"): 1 << 30, ("mlops_gpu_memory_used_bytes", "1"): 2 << 30,
        ("mlops_gpu_memory_total_bytes", "0"): 80 << 30, ("mlops_gpu_memory_total_bytes", "1"): 80 << 30}
    cuda.utilizations[0] = 90
    assert _gpu_values(m)[("mlops_gpu_utilization_ratio", "0")] == 0.9


def test_without_nvml_no_utilisation_and_the_memory_this_process_holds(caplog: pytest.LogCaptureFixture) -> None:
    m = Metrics("digits-cnn", "v1", "sha256:" + "a" * 64, 32)
    m.watch_gpu(TorchGpu(FakeCuda(nvml=False)))
    values = _gpu_values(m)
    assert values == {("mlops_gpu_memory_used_bytes", "0"): 1 << 20, ("mlops_gpu_memory_used_bytes", "1"): 2 << 20,
                      ("mlops_gpu_memory_total_bytes", "0"): 80 << 30, ("mlops_gpu_memory_total_bytes", "1"): 80 << 30}
    assert "install nvidia-ml-py" in caplog.text


def test_a_failing_read_skips_that_sample_and_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    m = Metrics("digits-cnn", "v1", "sha256:" + "a" * 64, 32)
    m.watch_gpu(TorchGpu(FakeCuda(fail="utilization")))
    for _ in range(3):
        values = _gpu_values(m)
    assert not [key for key in values if key[0] == "mlops_gpu_utilization_ratio"]
    assert values[("mlops_gpu_memory_used_bytes", "0")] == 1 << 30
    assert caplog.text.count("cannot read mlops_gpu_utilization_ratio") == 1


def test_no_device_means_no_collector() -> None:
    class NoDevice(FakeCuda):
        def device_count(self) -> int:
            return 0

    assert Metrics("digits-cnn", "v1", "sha256:" + "a" * 64, 32).watch_gpu(TorchGpu(NoDevice())) is False


@pytest.mark.gpu
def test_a_real_gpu_is_exported() -> None:
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    m = Metrics("digits-cnn", "v1", "sha256:" + "a" * 64, 32)
    assert m.watch_gpu(torch_gpu())
    x = torch.ones((1024, 1024), device="cuda")
    (x @ x).sum().item()
    values = _gpu_values(m)
    count = torch.cuda.device_count()
    for index in map(str, range(count)):
        total = values[("mlops_gpu_memory_total_bytes", index)]
        assert 0 < values[("mlops_gpu_memory_used_bytes", index)] <= total
        utilization = values.get(("mlops_gpu_utilization_ratio", index))  # absent without nvidia-ml-py
        assert utilization is None or 0 <= utilization <= 1

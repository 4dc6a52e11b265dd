"""Training benchmark: the `mlops train` loop against a hand-written PyTorch loop, side by side.

    .venv/bin/python benchmarks/bench_train.py                    # both example models, CPU
    .venv/bin/python benchmarks/bench_train.py --reps 9 --epochs 4 --threads 2
    .venv/bin/python benchmarks/bench_train.py --device cuda --amp  # on a GPU: AMP (bf16, fp16) vs fp32

Same model (`models/<name>/model.py`), same data (the example CSVs, standardised like the harness does),
same seed, same batch size and optimizer; the hand-written loop draws each epoch's order exactly as the
harness does (`randperm` seeded with seed + epoch), so both end with bit-identical weights — the script
checks that before it reports, which proves they did the same work. Each loop also computes the
validation loss and accuracy once per epoch. Repetitions are interleaved (harness, hand, hand, harness, …)
and the medians compared: the ratio is harness samples/s over hand-written samples/s (goal ≥ 0.97).

The harness (`mlops.train.loop.fit`) is timed as `mlops train` runs it, with deterministic algorithms
on, the loss accumulated on the device (one host sync per epoch), no checkpoints and no progress output
(checkpoints are a per-N-epochs cost the user chooses; CI prints one line per epoch).
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mlops.core import yamlpos  # noqa: E402
from mlops.core.spec.load import validate  # noqa: E402
from mlops.core.spec.model import ModelSpec  # noqa: E402
from mlops.train import determinism, usercode  # noqa: E402
from mlops.train.data import load_table  # noqa: E402
from mlops.train.loop import LoopConfig, fit, make_optimizer  # noqa: E402


def load(model: str, epochs: int) -> tuple[ModelSpec, dict[str, np.ndarray], int]:
    rel = f"models/{model}/model.yaml"
    doc = yamlpos.load(ROOT / rel, rel)
    spec = validate(doc, ModelSpec)
    spec = spec.model_copy(update={"training": spec.training.model_copy(update={"epochs": epochs})})
    table = load_table(ROOT / spec.data.path, spec, doc)
    mean, std = table.standardisation()
    arrays = {}
    for name in ("train", "validation"):
        x, y = table.part(name)
        arrays[f"x_{name}"], arrays[f"y_{name}"] = ((x - mean) / std).astype(np.float32), y
    return spec, arrays, table.n_outputs


def build(model: str, spec: ModelSpec, n_features: int, n_outputs: int) -> nn.Module:
    return usercode.build(model, ROOT / "models" / model / spec.code, dict(spec.params), n_features, n_outputs,
                          f"models/{model}/model.py")


def run_harness(model: str, spec: ModelSpec, data: dict[str, np.ndarray], n_out: int, device: torch.device,
                precision: str) -> tuple[float, nn.Module]:
    determinism.configure(spec.training.seed)
    net = build(model, spec, data["x_train"].shape[1], n_out)
    cfg = LoopConfig(spec.training, spec.task, device, precision)
    _sync(device)
    start = time.perf_counter()
    fit(net, data["x_train"], data["y_train"], data["x_validation"], data["y_validation"], cfg)
    _sync(device)
    return time.perf_counter() - start, net


def run_hand(model: str, spec: ModelSpec, data: dict[str, np.ndarray], n_out: int, device: torch.device,
             precision: str) -> tuple[float, nn.Module]:
    """The loop one writes by hand: tensors on the device, a shuffled index per epoch, standard AMP."""
    t = spec.training
    torch.manual_seed(t.seed)
    net = build(model, spec, data["x_train"].shape[1], n_out).to(device).train()
    opt = make_optimizer(net, t)
    x, y = torch.as_tensor(data["x_train"], device=device), torch.as_tensor(data["y_train"], device=device)
    xv, yv = torch.as_tensor(data["x_validation"], device=device), torch.as_tensor(data["y_validation"], device=device)
    amp = device.type == "cuda" and precision in ("bf16", "fp16")
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=device.type == "cuda" and precision == "fp16")
    _sync(device)
    start = time.perf_counter()
    for epoch in range(t.epochs):
        g = torch.Generator()
        g.manual_seed(t.seed + epoch)
        order = torch.randperm(len(x), generator=g).to(device)
        for i in range(math.ceil(len(x) / t.batch_size)):
            idx = order[i * t.batch_size:(i + 1) * t.batch_size]
            with torch.autocast("cuda", dtype=dtype, enabled=amp):
                loss = nn.functional.cross_entropy(net(x[idx]).float(), y[idx])
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        net.eval()
        with torch.inference_mode(), torch.autocast("cuda", dtype=dtype, enabled=amp):
            out = net(xv).float()
            _val = (nn.functional.cross_entropy(out, yv).item(), (out.argmax(1) == yv).float().mean().item())
        net.train()
    _sync(device)
    return time.perf_counter() - start, net


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def same_weights(a: nn.Module, b: nn.Module) -> bool:
    return all(torch.equal(p.detach().cpu(), q.detach().cpu()) for p, q in
               zip(a.state_dict().values(), b.state_dict().values(), strict=True))


def compare(model: str, args: argparse.Namespace, device: torch.device) -> dict[str, Any]:
    spec, data, n_out = load(model, args.epochs)
    samples = args.epochs * len(data["x_train"])
    runs: dict[str, list[float]] = {"harness": [], "hand": []}
    run_harness(model, spec, data, n_out, device, "fp32")  # warm-up (imports, allocator, kernels)
    run_hand(model, spec, data, n_out, device, "fp32")
    identical = True
    for rep in range(args.reps):
        order = ("harness", "hand") if rep % 2 == 0 else ("hand", "harness")
        nets = {}
        for name in order:
            fn = run_harness if name == "harness" else run_hand
            seconds, nets[name] = fn(model, spec, data, n_out, device, "fp32")
            runs[name].append(samples / seconds)
        identical &= same_weights(nets["harness"], nets["hand"])
    harness, hand = statistics.median(runs["harness"]), statistics.median(runs["hand"])
    return {"model": model, "samples_per_epoch": len(data["x_train"]), "batch": spec.training.batch_size,
            "harness": harness, "hand": hand, "ratio": harness / hand, "identical": identical}


def amp(model: str, args: argparse.Namespace, device: torch.device) -> dict[str, float]:
    spec, data, n_out = load(model, args.epochs)
    samples = args.epochs * len(data["x_train"])
    modes = ["fp32", "bf16", "fp16"]
    runs: dict[str, list[float]] = {m: [] for m in modes}
    for m in modes:
        run_harness(model, spec, data, n_out, device, m)
    for rep in range(args.reps):
        for m in (modes if rep % 2 == 0 else modes[::-1]):
            runs[m].append(samples / run_harness(model, spec, data, n_out, device, m)[0])
    return {m: statistics.median(v) for m, v in runs.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["digits-cnn", "cancer-mlp"])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (both loops)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--amp", action="store_true", help="on CUDA: harness fp32 vs bf16 vs fp16")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f"torch {torch.__version__}, device {device}, {args.threads} threads, {args.epochs} epochs, "
          f"{args.reps} interleaved repetitions (medians)")
    print(f"{'model':<12} {'batch':>5} {'harness samples/s':>18} {'hand-written samples/s':>23} {'ratio':>6}  "
          "identical weights")
    ok = True
    for model in args.models:
        r = compare(model, args, device)
        ok &= r["identical"]
        print(f"{r['model']:<12} {r['batch']:>5} {r['harness']:>18,.0f} {r['hand']:>23,.0f} {r['ratio']:>6.3f}  "
              f"{'yes' if r['identical'] else 'NO'}")
    if args.amp and device.type == "cuda":
        for model in args.models:
            res = amp(model, args, device)
            print(f"AMP {model}: " + ", ".join(f"{m} {v:,.0f} samples/s" for m, v in res.items())
                  + f"; bf16/fp32 {res['bf16'] / res['fp32']:.2f}×, fp16/fp32 {res['fp16'] / res['fp32']:.2f}×")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: the paired bootstrap's cost (mlops.core.confidence) on the example models' test splits.

For each example model, the real test split is read the way `mlops evaluate` reads it (the model's
spec, its data file, the split column); a candidate's and a baseline's outputs of the same shape are
simulated (logits right on about 95 % / 94 % of rows: the bootstrap's cost depends on the rows, the
classes and the replicates, not on what the network is). Then `paired_bootstrap` — every metric of
the model's spec, both versions, Δ — is timed (best and median of --reps, after one warm-up), for
1,000 replicates and for the larger splits and replicate counts given, to show how it scales.

Usage: .venv/bin/python benchmarks/bench_confidence.py [--reps 7] [--replicates 1000 10000] [--rows 10000 100000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mlops.core.confidence import Bootstrap, Rows, paired_bootstrap  # noqa: E402
from mlops.core.repo import load_repository  # noqa: E402
from mlops.train.data import load_table  # noqa: E402


def simulated(y: np.ndarray, classes: int, right: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    hit = rng.random(len(y)) < right
    label = np.where(hit, y, (y + 1) % classes)
    return rng.normal(size=(len(y), classes)) + np.eye(classes)[label] * 4.0


def timed(names: list[str], cand: Rows, base: Rows, config: Bootstrap, reps: int) -> tuple[float, float]:
    paired_bootstrap(names, cand, base, config)  # warm-up
    runs = []
    for _ in range(reps):
        start = time.perf_counter()
        paired_bootstrap(names, cand, base, config)
        runs.append(time.perf_counter() - start)
    return min(runs), statistics.median(runs)


def row(label: str, rows: int, classes: int, names: list[str], replicates: int, best: float, median: float) -> str:
    return (f"| {label} | {rows:,} | {classes} | {len(names)} | {replicates:,} | {best * 1e3:,.1f} ms | "
            f"{median * 1e3:,.1f} ms |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--replicates", type=int, nargs="*", default=[1000, 10000])
    parser.add_argument("--rows", type=int, nargs="*", default=[10_000, 100_000])
    args = parser.parse_args()
    repo = load_repository(ROOT)
    print(f"# {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, numpy {np.__version__}")
    print("| split | rows | classes | metrics | replicates | best | median |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for model in sorted(repo.models):
        loaded = repo.models[model]
        table = load_table(ROOT / loaded.spec.data.path, loaded.spec, loaded.doc)
        _, y = table.part("test")
        classes = len(table.classes)
        names = sorted(loaded.spec.evaluation.metrics)
        cand, base = (Rows(y, simulated(y, classes, r, s)) for r, s in ((0.95, 1), (0.94, 2)))
        for b in args.replicates:
            print(row(f"{model} test", len(y), classes, names, b, *timed(names, cand, base, Bootstrap(b), args.reps)))
    rng = np.random.default_rng(0)
    for n in args.rows:
        y = rng.integers(0, 10, size=n)
        cand, base = (Rows(y, simulated(y, 10, r, s)) for r, s in ((0.95, 1), (0.94, 2)))
        names = ["accuracy", "log_loss", "macro_f1"]
        print(row("synthetic, 10 classes", n, 10, names, 1000, *timed(names, cand, base, Bootstrap(),
                                                                     max(1, args.reps // 3))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

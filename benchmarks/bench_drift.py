"""Drift benchmark: false alarms and power of the calibrated engine, and a 1,000,000 × 64 window from Parquet.

    .venv/bin/python benchmarks/bench_drift.py            # 2,000 + 2 × 500 runs, digits, 1M rows: ~35 minutes
    .venv/bin/python benchmarks/bench_drift.py --quick    # 200 runs each, 200k rows: ~8 minutes

1. Calibration on a synthetic population of 64 features (32 continuous: normal, log-normal, Student t(3),
   uniform and bimodal; 16 discrete: six pixel marginals of scikit-learn's digits, one of them constant,
   Poisson, zero-inflated negative binomial, 0/1, and integers with hundreds of levels; 16 categorical
   with 3 to 300 categories, Zipf tails whose rare categories often appear in one window only) plus a
   10-class prediction column; 2 % missing values in eight columns. Each run draws the reference
   (20,000 rows, the engine's cap) and the current window (5,000 rows) independently from the same
   population and runs :class:`LocalDriftEngine` (the evidently engine's exact procedure without
   evidently's per-column charts; the tests check that both give the same p-values).
   - false-alarm rate: runs where any of the 65 tests reports drift, at the default family-wise level
     (0.005) and at 0.01, read off the same runs, with Clopper–Pearson 95 % intervals;
   - power: a 0.25 σ mean shift in one continuous feature (``f00 + 0.25 σ``) and in one discrete feature
     (pixel 20 of the digits; its values stay integers: every value gets ``+⌊0.25 σ⌋`` and a random
     ``frac(0.25 σ)`` share of rows one more, so the mean moves by exactly 0.25 σ in expectation); a run
     counts when the shifted column itself is flagged;
   - evidently's own default per-column choice (what ``DataDriftPreset`` runs), called on the first null
     runs: its false-alarm rate, for comparison.
2. The real digits features: reference = 1,258 rows (the digits-cnn training split's size) and current =
   5,000 rows, both drawn with replacement from the 1,797 images (i.i.d. from the data's own distribution,
   which is the null), kinds from ``models/digits-cnn/model.yaml`` (float32 pixels, found to be discrete),
   the label as the categorical prediction column. False alarms, and power for pixel 43 shifted as above.
3. Throughput: a window of 1,000,000 rows × 64 features (+ prediction) in Parquet with shifts injected in
   ``f00`` (+0.25 σ), ``d03`` (+0.25 σ) and ``c04`` (5 % of rows become an unseen category), against a
   100,000-row reference in Parquet. Each measurement is a fresh child process (its wall time includes
   Python's start and the imports; its peak RSS comes from ``wait4``): the engine (sampled), the same
   engine unsampled (all rows), and evidently's ``DataDriftPreset`` with its defaults (all rows; all 65
   columns in the full run, 8 with ``--quick``, then extrapolated linearly in columns).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mlops.adapters.drift import DriftResult  # noqa: E402
from mlops.adapters.drift.local import LocalDriftEngine  # noqa: E402
from mlops.core.drift import DEFAULT_ALPHA, Kind, kinds_from_dtypes  # noqa: E402

Sampler = Callable[[np.random.Generator, int], np.ndarray]
PIXELS = (0, 1, 2, 20, 43, 60)
# the DataDriftPreset run's columns: the three shifted ones first, then stable ones of each kind
PRESET_COLUMNS = ["f00", "d03", "c04", "f01", "d01", "c01", "f08", "c12", "f16", "d09", "c08", "f24", "d14", "c15"]


def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    d = load_digits()
    return d.data.astype(np.int64), d.target.astype(np.int64)


def _choice(values: np.ndarray, p: np.ndarray) -> Sampler:
    cdf = np.cumsum(p / p.sum())
    return lambda rng, n: values[np.minimum(np.searchsorted(cdf, rng.random(n), side="right"), len(values) - 1)]


def _with_nan(sampler: Sampler, share: float = 0.02) -> Sampler:
    def draw(rng: np.random.Generator, n: int) -> np.ndarray:
        x = sampler(rng, n)
        x = x.copy() if x.dtype == object else x.astype(float)
        x[rng.random(n) < share] = None if x.dtype == object else np.nan
        return x
    return draw


def _uniform(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.uniform(0, 1, n)


def _bimodal(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.where(rng.random(n) < 0.7, rng.normal(0, 1, n), rng.normal(4, 0.5, n))


def population() -> tuple[dict[str, Sampler], dict[str, Kind]]:
    """64 features + ``prediction``: name → sampler, and name → kind (see the module's docstring)."""
    pix, _ = _digits()
    s: dict[str, Sampler] = {}
    for j in range(8):
        s[f"f{j:02d}"] = lambda rng, n, j=j: rng.normal(j, 1 + j / 4, n)
        s[f"f{j + 8:02d}"] = lambda rng, n, j=j: rng.lognormal(0, 0.4 + j / 8, n)
        s[f"f{j + 16:02d}"] = lambda rng, n, j=j: rng.standard_t(3, n) * (1 + j)
        s[f"f{j + 24:02d}"] = _uniform if j % 2 else _bimodal
    for j in range(4, 8):
        s[f"f{j:02d}"] = _with_nan(s[f"f{j:02d}"])
    for i, px in enumerate(PIXELS):
        s[f"d{i:02d}"] = _choice(np.arange(17), np.bincount(pix[:, px], minlength=17).astype(float))
    for i, lam in zip(range(6, 10), (0.3, 1, 3, 10), strict=True):
        s[f"d{i:02d}"] = lambda rng, n, lam=lam: rng.poisson(lam, n)
    s["d10"] = lambda rng, n: np.where(rng.random(n) < 0.7, 0, rng.negative_binomial(2, 0.3, n))
    s["d11"] = lambda rng, n: np.where(rng.random(n) < 0.5, 0, rng.negative_binomial(5, 0.1, n))
    s["d12"] = lambda rng, n: (rng.random(n) < 0.1).astype(np.int64)
    s["d13"] = lambda rng, n: (rng.random(n) < 0.5).astype(np.int64)
    s["d14"] = lambda rng, n: np.round(rng.normal(0, 30, n))
    s["d15"] = lambda rng, n: np.round(rng.normal(0, 100, n))
    for j in (8, 9):
        s[f"d{j:02d}"] = _with_nan(s[f"d{j:02d}"])
    cats = [np.array([.6, .3, .1]), np.array([.9, .09, .01]), np.array([.98, .015, .005]), np.ones(3)]
    cats += [0.7 ** np.arange(10)] * 4 + [1 / np.arange(1, 31) ** 1.5] * 4 + [1 / np.arange(1, 301) ** 1.1] * 4
    for i, p in enumerate(cats):
        s[f"c{i:02d}"] = _choice(np.array([f"k{i}_{v}" for v in range(len(p))], dtype=object), p)
    for j in (4, 5):
        s[f"c{j:02d}"] = _with_nan(s[f"c{j:02d}"])
    s["prediction"] = _choice(np.arange(10), np.linspace(1.0, 1.5, 10))
    kinds: dict[str, Kind] = {n: ("numeric" if n[0] == "f" else "discrete" if n[0] == "d" else "categorical")
                              for n in s if n != "prediction"}
    return s, kinds


def draw(samplers: dict[str, Sampler], rng: np.random.Generator, n: int) -> pd.DataFrame:
    return pd.DataFrame({name: f(rng, n) for name, f in samplers.items()})


def shift_discrete(x: np.ndarray, delta: float, rng: np.random.Generator) -> np.ndarray:
    """Integers stay integers: ``+⌊delta⌋`` for all, one more for a random ``frac(delta)`` share."""
    return x + np.floor(delta) + (rng.random(len(x)) < delta - np.floor(delta))


def clopper_pearson(k: int, n: int) -> tuple[float, float]:
    from scipy.stats import binomtest

    ci = binomtest(k, n).proportion_ci(0.95, method="exact")
    return float(ci.low), float(ci.high)


def rate(k: int, n: int) -> str:
    lo, hi = clopper_pearson(k, n)
    return f"{k}/{n} = {k / n:6.2%}  (95 % CI {lo:.2%} – {hi:.2%})"


def evidently_default_alarm(ref: pd.DataFrame, cur: pd.DataFrame, kinds: dict[str, Kind]) -> bool:
    """Would evidently's default per-column method (as DataDriftPreset picks it) flag any column?"""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from evidently.legacy.calculations.stattests import get_stattest
        from evidently.legacy.core import ColumnType
    for name, kind in {**kinds, "prediction": "categorical"}.items():
        r, c = ref[name].dropna(), cur[name].dropna()
        ctype = ColumnType.Categorical if kind == "categorical" else ColumnType.Numerical
        if ctype == ColumnType.Numerical:
            r, c = r.astype(float), c.astype(float)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if get_stattest(r, c, ctype, None)(r, c, ctype, None).drifted:
                return True
    return False


class Alarms:
    """False alarms over null runs, at the default family-wise level and at 0.01, from one set of runs.

    A run alarms at level ``a`` when its smallest p-value is ≤ ``a / K`` (Bonferroni over its K tests),
    so both levels are read off the same runs.
    """

    def __init__(self) -> None:
        self.runs, self.at = 0, {DEFAULT_ALPHA: 0, 0.01: 0}
        self.columns: dict[str, int] = {}

    def add(self, res: DriftResult) -> None:
        assert res.verdict != "insufficient data", res.undecided
        tests = res.tests
        smallest = min(t.p_value for t in tests if t.p_value is not None)
        self.runs += 1
        for a in self.at:
            self.at[a] += smallest <= a / len(tests)
        for t in tests:
            if t.p_value is not None and t.p_value <= 0.01 / len(tests):
                self.columns[t.column] = self.columns.get(t.column, 0) + 1

    def report(self, seconds: float) -> None:
        for a, k in self.at.items():
            tag = "default " if a == DEFAULT_ALPHA else "        "
            print(f"false alarms, {tag}alpha {a:<5} (per test {a / 65:.1e}): {rate(k, self.runs)}"
                  + (f"   [{seconds:.0f} s]" if a == DEFAULT_ALPHA else ""))
        if self.columns:
            print("  columns at ≤ 0.01/65: " + ", ".join(f"{c}×{n}" for c, n in self.columns.items()))


def calibration(runs: int, power_runs: int, evidently_runs: int, seed: int = 20240) -> None:
    samplers, kinds = population()
    engine, rng = LocalDriftEngine(), np.random.default_rng(seed)
    sigma = {n: float(np.nanstd(samplers[n](np.random.default_rng(1), 400_000).astype(float))) for n in ("f00", "d03")}
    print("\n## Calibration: 64 features (32 continuous, 16 discrete, 16 categorical) + prediction, "
          "reference 20,000 rows, current 5,000 rows, independent draws from one population")
    t0, alarms, ev_alarms = time.perf_counter(), Alarms(), 0
    for i in range(runs):
        ref, cur = draw(samplers, rng, 20_000), draw(samplers, rng, 5_000)
        alarms.add(engine.compare(ref, cur, kinds, prediction="prediction"))
        if i < evidently_runs:
            ev_alarms += evidently_default_alarm(ref, cur, kinds)
    alarms.report(time.perf_counter() - t0)
    if evidently_runs:
        print(f"evidently's default per-column methods (first {evidently_runs} of these runs): "
              f"{rate(ev_alarms, evidently_runs)}")
    for name, label in (("f00", "continuous f00 (normal)"), ("d03", "discrete d03 (digits pixel 20)")):
        t0, hits, any_hits = time.perf_counter(), 0, 0
        delta = 0.25 * sigma[name]
        for _ in range(power_runs):
            ref, cur = draw(samplers, rng, 20_000), draw(samplers, rng, 5_000)
            cur[name] = cur[name] + delta if name[0] == "f" else shift_discrete(cur[name].to_numpy(), delta, rng)
            res = engine.compare(ref, cur, kinds, prediction="prediction")
            hits += name in res.drifted_columns
            any_hits += res.drifted
        print(f"power at the default alpha, 0.25 σ shift in {label:30s}: {rate(hits, power_runs)}   "
              f"[{time.perf_counter() - t0:.0f} s]")


def digits(runs: int, seed: int = 7) -> None:
    import yaml

    pix, label = _digits()
    spec = yaml.safe_load((ROOT / "models/digits-cnn/model.yaml").read_text())
    kinds = kinds_from_dtypes(spec["data"]["features"])
    frame = pd.DataFrame(pix.astype(np.float32), columns=list(kinds)).assign(digit=label)
    engine, rng = LocalDriftEngine(), np.random.default_rng(seed)
    sigma = float(frame["pixel_43"].std(ddof=0))
    print("\n## Real digits features: reference 1,258 rows, current 5,000 rows, drawn with replacement from the "
          "1,797 images; prediction = the label")
    t0, alarms, hits = time.perf_counter(), Alarms(), 0
    for _ in range(runs):
        ref = frame.iloc[rng.integers(0, len(frame), 1_258)]
        cur = frame.iloc[rng.integers(0, len(frame), 5_000)].reset_index(drop=True)
        alarms.add(engine.compare(ref, cur, kinds, prediction="digit"))
        cur["pixel_43"] = shift_discrete(cur["pixel_43"].to_numpy(), 0.25 * sigma, rng)
        hits += "pixel_43" in engine.compare(ref, cur, kinds, prediction="digit").drifted_columns
    alarms.report(time.perf_counter() - t0)
    print(f"power at the default alpha, 0.25 σ shift in pixel_43 (σ = {sigma:.2f}): {rate(hits, runs)}")


# --- throughput -----------------------------------------------------------------------------------------------


def write_parquet(path: Path, rows: int, seed: int, shifted: bool) -> None:
    """``rows`` rows of the population in row groups of 100,000 (``shifted``: the three injected shifts)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    samplers, _ = population()
    rng = np.random.default_rng(seed)
    sigma = {n: float(np.nanstd(samplers[n](np.random.default_rng(1), 400_000).astype(float))) for n in ("f00", "d03")}
    writer = None
    for start in range(0, rows, 100_000):
        chunk = draw(samplers, rng, min(100_000, rows - start))
        if shifted:
            chunk["f00"] += 0.25 * sigma["f00"]
            chunk["d03"] = shift_discrete(chunk["d03"].to_numpy(), 0.25 * sigma["d03"], rng)
            chunk.loc[rng.random(len(chunk)) < 0.05, "c04"] = "unseen"
        table = pa.Table.from_pandas(chunk, preserve_index=False)
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    assert writer is not None
    writer.close()


def child(mode: str, folder: Path, columns: int) -> None:
    """One measurement, in its own process; prints one JSON line. As a monitor would: read the window,
    then compare (evidently is imported on first use, timed apart)."""
    t0 = time.perf_counter()
    import pyarrow.parquet as pq

    from mlops.adapters.drift.evidently_engine import EvidentlyDriftEngine, load_evidently

    # self_destruct: Arrow frees each column once converted, so the window is not held twice
    cur = pq.read_table(folder / "window.parquet").to_pandas(split_blocks=True, self_destruct=True)
    ref = pq.read_table(folder / "reference.parquet").to_pandas(split_blocks=True, self_destruct=True)
    t1 = time.perf_counter()
    load_evidently()
    t2 = time.perf_counter()
    kinds: dict[str, Kind] = {n: ("numeric" if n[0] == "f" else "discrete" if n[0] == "d" else "categorical")
                              for n in cur.columns if n != "prediction"}
    out: dict[str, Any] = {"rows": len(cur), "read_s": t1 - t0, "import_s": t2 - t1}
    if mode in ("engine", "unsampled"):
        caps = {} if mode == "engine" else {"reference_rows": 10**9, "current_rows": 10**9}
        res = EvidentlyDriftEngine(**caps).compare(ref, cur, kinds, prediction="prediction")
        out.update(verdict=res.verdict, drifted=[t.column for t in res.tests if t.drifted],
                   compared=[res.reference_rows, res.current_rows])
    else:
        names = [*PRESET_COLUMNS, *(n for n in kinds if n not in PRESET_COLUMNS), "prediction"][:columns]
        drifted = preset_drifted(ref, cur, names, {**kinds, "prediction": "categorical"})
        out.update(columns=names, drifted=drifted)
    out["compare_s"] = time.perf_counter() - t2
    print(json.dumps(out))


def preset_drifted(ref: pd.DataFrame, cur: pd.DataFrame, names: list[str], kinds: dict[str, Kind]) -> list[str]:
    """The columns evidently's ``DataDriftPreset`` flags with its default methods and thresholds (only the
    column types are given, so that no type is guessed from the data)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from evidently import DataDefinition, Dataset, Report
        from evidently.presets import DataDriftPreset

        numerical = [n for n in names if kinds[n] in ("numeric", "discrete")]
        definition = DataDefinition(numerical_columns=numerical,
                                    categorical_columns=[n for n in names if n not in numerical])
        snap = Report([DataDriftPreset(columns=names)], include_tests=True).run(
            Dataset.from_pandas(cur[names], data_definition=definition),
            Dataset.from_pandas(ref[names], data_definition=definition)).dict()
    return [m["config"]["column"] for m in snap["metrics"] if m["config"].get("type", "").endswith("ValueDrift")
            and any(t["metric_config"]["metric_id"] == m["id"] and str(t["status"]).endswith("FAIL")
                    for t in snap["tests"])]


def measure(mode: str, folder: Path, columns: int) -> dict[str, Any]:
    """Run one child; its wall time and peak RSS (``wait4``'s ``ru_maxrss``, KiB on Linux)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, "--child", mode, "--dir", str(folder),
                             "--columns", str(columns)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    text = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"child {mode} failed ({proc.returncode})")
    out: dict[str, Any] = json.loads(text.strip().splitlines()[-1])
    out.update(wall_s=time.perf_counter() - t0, rss_gb=usage.ru_maxrss / 2**20)
    return out


def throughput(rows: int, columns: int, unsampled: bool) -> None:
    print(f"\n## Throughput: a window of {rows:,} rows × 64 features + prediction from Parquet, "
          "reference 100,000 rows from Parquet; injected: f00 +0.25 σ, d03 +0.25 σ, c04 5 % unseen category")
    with tempfile.TemporaryDirectory(prefix="bench-drift-") as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        write_parquet(folder / "window.parquet", rows, 11, shifted=True)
        write_parquet(folder / "reference.parquet", 100_000, 12, shifted=False)
        print(f"(wrote the Parquet files in {time.perf_counter() - t0:.0f} s, "
              f"{(folder / 'window.parquet').stat().st_size / 2**20:.0f} MiB window)")
        runs = [("engine", "mlops engine (seeded samples 20,000 / 20,000)")]
        if unsampled:
            runs.append(("unsampled", "same engine, unsampled (all rows)"))
        runs.append(("preset", f"evidently DataDriftPreset defaults, {min(columns, 65)} of 65 columns"))
        for mode, label in runs:
            m = measure(mode, folder, columns)
            print(f"{label:50s} wall {m['wall_s']:6.1f} s (read {m['read_s']:.1f}, import evidently "
                  f"{m['import_s']:.1f}, compare {m['compare_s']:.1f})  peak RSS {m['rss_gb']:.2f} GB")
            print(f"{'':50s} drifted: {', '.join(m['drifted']) or 'none'}")
            if mode == "preset" and len(m["columns"]) < 65:
                per_col = m["compare_s"] / len(m["columns"])
                print(f"{'':50s} → 65 columns ≈ {m['wall_s'] + (65 - len(m['columns'])) * per_col:.0f} s "
                      f"(linear in columns: {per_col:.1f} s each; columns {', '.join(m['columns'])})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="200 runs each, 200,000-row window, 8 preset columns")
    ap.add_argument("--child", choices=["engine", "unsampled", "preset"], help=argparse.SUPPRESS)
    ap.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--columns", type=int, default=0, help="columns of the DataDriftPreset run (default: 8 quick, "
                    "65 full: the three shifted ones first)")
    ap.add_argument("--skip", nargs="*", default=[], choices=["calibration", "digits", "throughput"])
    args = ap.parse_args()
    if args.child:
        child(args.child, args.dir, args.columns)
        return
    quick = args.quick
    print(f"# bench_drift {'--quick' if quick else '(full)'}: python {sys.version.split()[0]}, "
          f"{os.cpu_count()} CPUs")
    if "calibration" not in args.skip:
        calibration(200 if quick else 2_000, 200 if quick else 500, 50 if quick else 200)
    if "digits" not in args.skip:
        digits(200 if quick else 500)
    if "throughput" not in args.skip:
        throughput(200_000 if quick else 1_000_000, args.columns or (8 if quick else 65), unsampled=True)


if __name__ == "__main__":
    main()

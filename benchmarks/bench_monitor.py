"""`mlops monitor` on 1,000,000 logged predictions × 64 features from Parquet, beside evidently's DataDriftPreset.

    .venv/bin/python benchmarks/bench_monitor.py                      # 1M rows: about 10 minutes
    .venv/bin/python benchmarks/bench_monitor.py --rows 100000 --skip-preset

Builds a real repository in a temporary directory: a copy of the example (digits-cnn's spec, the DVC-tracked
digits data and DVC's cache), git with a bare remote, a digits-cnn version (a real ``torch.export`` program with
untrained weights, ``tests/helpers/monitoring.py``) whose record names the data version, pinned in dev, with every
one of the 64 pixels monitored and ``monitoring.window_size`` 1,000,000. dev's prediction log is written as the
serving runtime writes it (Parquet segments of 25,000 rows, ``benchmarks/bench_window.py``): rows drawn with
replacement from the version's own training rows (the monitor's reference, read the way the monitor reads it),
two of them shifted by +0.25 σ with integers kept (pixel_20 and pixel_43), and each row's prediction by the
version itself. Then, each in a fresh process, one after the other:

  1. ``mlops monitor --env dev --model digits-cnn --dry-run`` as shipped: a seeded 100,000-row sample of the
     window, the drift tests on seeded samples of at most 20,000 rows, in evidently, and its HTML report;
  2. the same command unsampled: every row of the window in every test;
  3. evidently's ``DataDriftPreset`` with its default methods and thresholds on every row (64 pixels and the
     prediction; only the column types are given).

Each row: wall time, peak RSS (``wait4``) and the drifted columns. The monitor's verdicts must agree.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

MODEL, SHIFTED = "digits-cnn", ("pixel_20", "pixel_43")
SEGMENT_ROWS = 25_000


def build(repo: Path, rows: int) -> dict[str, Any]:
    """The repository, the version pinned in dev, and dev's prediction log; returns what was injected."""
    import numpy as np
    import pandas as pd
    from bench_drift import shift_discrete
    from bench_window import log_segments

    from mlops.adapters.artifacts.loader import load_verified
    from mlops.core.repo import load_repository
    from mlops.deploy.pin import set_pin
    from mlops.monitor.reference import load_reference
    from tests.helpers.git import commit_all, copy_example, git, init_repo, with_origin
    from tests.helpers.monitoring import digits_version

    copy_example(repo)
    spec = repo / "models" / MODEL / "model.yaml"
    text = spec.read_text()
    start = text.index("monitoring:\n")
    monitoring = text[start:]
    monitoring = "\n".join(line for line in monitoring.splitlines() if not line.startswith("  features:"))
    monitoring = monitoring.replace("window_size: 500", f"window_size: {rows}")
    spec.write_text(text[:start] + monitoring + "\n")
    init_repo(repo, gitignore="/data/\n/.mlops/\n__pycache__/\n")
    with_origin(repo, repo.parent / "origin.git")
    version = digits_version(repo, 0, metrics={"accuracy": 0.9})
    env = repo / "environments" / "dev.yaml"
    env.write_text(set_pin(env.read_text(), str(env), MODEL, version.version))
    commit_all(repo, "pin the version in dev")
    git(repo, "push", "-q", "origin", "main")

    loaded = load_repository(repo, only_models={MODEL})
    record = loaded.records[MODEL][version.version].spec
    ref = load_reference(loaded, record)
    predictor = load_verified(version.store, record)
    rng = np.random.default_rng(2026)
    reference = ref.features.to_numpy(np.float32)
    window = reference[rng.integers(0, len(reference), rows)]
    sigma = {}
    for name in SHIFTED:
        j = list(ref.features.columns).index(name)
        sigma[name] = float(ref.features[name].std(ddof=0))
        window[:, j] = shift_discrete(window[:, j], 0.25 * sigma[name], rng)
    unique, inverse = np.unique(window, axis=0, return_inverse=True)
    outputs = predictor.predict(unique)[inverse.reshape(-1)].astype(np.float32)
    size = log_segments(repo / ".mlops" / "predictions" / "dev", MODEL, version.version,
                        ((window[i:i + SEGMENT_ROWS], outputs[i:i + SEGMENT_ROWS])
                         for i in range(0, rows, SEGMENT_ROWS)))
    frame = pd.DataFrame(reference.astype(np.float64), columns=list(ref.features.columns))
    frame["prediction"] = [str(c) for c in predictor.predict(reference).argmax(axis=1)]
    frame.to_parquet(repo.parent / "reference.parquet")
    return {"version": version.version, "reference_rows": len(reference), "log_gb": size,
            "sigma": sigma, "unique_rows": len(unique)}


def monitor_args(repo: Path, out: Path) -> list[str]:
    return ["monitor", "--env", "dev", "--model", MODEL, "--dry-run", "--out", str(out), "--repo", str(repo)]


def child(mode: str, repo: Path, out: Path) -> None:
    """One measurement in this fresh process: the monitor (as shipped or unsampled) or the preset."""
    if mode == "preset":
        import pandas as pd
        from bench_drift import preset_drifted

        from mlops.adapters.sinks import read_window

        version = json.loads((repo.parent / "built.json").read_text())["version"]
        ref = pd.read_parquet(repo.parent / "reference.parquet")
        features = [c for c in ref.columns if c != "prediction"]
        window = read_window(repo / ".mlops" / "predictions" / "dev", MODEL, version, features)
        cur = window.features
        cur["prediction"] = [str(v) for v in window.meta["prediction"]]
        kinds = {**dict.fromkeys(features, "numeric"), "prediction": "categorical"}
        drifted = preset_drifted(ref, cur, list(ref.columns), kinds)  # type: ignore[arg-type]
        (out / "preset.json").write_text(json.dumps({"drifted": drifted, "rows": len(cur)}))
        return
    if mode == "unsampled":
        import mlops.adapters.drift as drift
        import mlops.monitor.run as run

        run.SAMPLE = None  # type: ignore[assignment]
        make = drift.drift_engine

        def unsampled(**options: Any) -> Any:
            engine = make(**options)
            engine.reference_rows = engine.current_rows = 10**9  # type: ignore[attr-defined]
            return engine

        drift.drift_engine = unsampled
    from mlops.cli import main

    raise SystemExit(main(monitor_args(repo, out)))


def measure(mode: str, repo: Path) -> dict[str, Any]:
    out = repo.parent / f"out-{mode}"
    out.mkdir()
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, "--child", mode, "--repo", str(repo), "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    text = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"child {mode} failed:\n{text}")
    result: dict[str, Any] = {"wall_s": time.perf_counter() - t0, "rss_gb": usage.ru_maxrss / 2**20}
    if mode == "preset":
        result.update(json.loads((out / "preset.json").read_text()))
    else:
        verdict = json.loads((out / f"monitor-dev-{MODEL}.json").read_text())
        drift = verdict["drift"]
        result.update(drifted=[*drift["drifted_columns"], *(["prediction"] if drift["prediction_drifted"] else [])],
                      verdict=verdict["verdict"], compared=[drift.get("reference_rows"), drift.get("current_rows")],
                      html=(out / f"monitor-dev-{MODEL}.html").is_file(), line=text.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--skip-preset", action="store_true", help="leave out evidently's DataDriftPreset")
    parser.add_argument("--keep", type=Path, help="copy the built repository there (to profile it)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--repo", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.repo, args.out)
        return
    with tempfile.TemporaryDirectory(prefix="bench-monitor-") as tmp:
        repo = Path(tmp) / "repo"
        t0 = time.perf_counter()
        built = build(repo, args.rows)
        (repo.parent / "built.json").write_text(json.dumps(built))
        if args.keep:
            import shutil

            shutil.copytree(repo.parent, args.keep, symlinks=True)
        print(f"built in {time.perf_counter() - t0:.0f} s: {args.rows:,} rows × 64 + prediction, "
              f"{built['log_gb']:.2f} GB of Parquet in {-(-args.rows // SEGMENT_ROWS)} segments; reference "
              f"{built['reference_rows']:,} training rows; injected +0.25 σ in {', '.join(SHIFTED)}")
        runs = [("sampled", "mlops monitor (as shipped)"), ("unsampled", "mlops monitor, unsampled")]
        if not args.skip_preset:
            runs.append(("preset", "evidently DataDriftPreset, defaults, every row"))
        results = {}
        for mode, label in runs:
            got = results[mode] = measure(mode, repo)
            print(f"{label:48s} wall {got['wall_s']:6.1f} s  peak RSS {got['rss_gb']:.2f} GB  "
                  f"drifted: {', '.join(got['drifted']) or 'none'}")
            if "line" in got:
                print(f"{'':48s} {got['line']}  (compared {got['compared']}, HTML report: {got['html']})")
        same = set(results["sampled"]["drifted"]) == set(results["unsampled"]["drifted"])
        print(f"same verdicts sampled and unsampled: {same}")
        print(json.dumps({"rows": args.rows, "built": built, "results": results}))


if __name__ == "__main__":
    main()

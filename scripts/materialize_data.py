#!/usr/bin/env python3
"""Materialise the example data from scikit-learn's bundled datasets into data/, track it with DVC
and push it to the default local directory remote. Idempotent and byte-deterministic: the same
files and the same DVC md5 on every machine, so a fresh clone reproduces the committed data.dvc.

Nothing is downloaded: digits (8×8 images) and breast cancer ship inside scikit-learn.
"""

from __future__ import annotations

import argparse
import csv
import io
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _rows_digits() -> tuple[list[str], list[list[str]]]:
    from sklearn.datasets import load_digits

    ds = load_digits()
    header = [f"pixel_{i}" for i in range(ds.data.shape[1])] + ["digit"]
    rows = [[f"{v:g}" for v in x] + [str(int(y))] for x, y in zip(ds.data, ds.target, strict=True)]
    return header, rows


def _rows_cancer() -> tuple[list[str], list[list[str]]]:
    from sklearn.datasets import load_breast_cancer

    ds = load_breast_cancer()
    header = [n.replace(" ", "_") for n in ds.feature_names] + ["malignant"]
    # scikit-learn encodes malignant as 0; the label here is 1 for malignant.
    rows = [[f"{v:.10g}" for v in x] + [str(1 - int(y))] for x, y in zip(ds.data, ds.target, strict=True)]
    return header, rows


DATASETS = {"digits/digits.csv": _rows_digits, "breast-cancer/breast_cancer.csv": _rows_cancer}


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> bool:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    data = buf.getvalue().encode()
    if path.is_file() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return True


def dvc(*args: str) -> None:
    exe = Path(sys.executable).with_name("dvc")
    subprocess.run([str(exe if exe.exists() else "dvc"), *args], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-dvc", action="store_true", help="only write the CSV files")
    args = parser.parse_args()
    changed = False
    for rel, make in DATASETS.items():
        header, rows = make()
        changed |= write_csv(ROOT / "data" / rel, header, rows)
        print(f"data/{rel}: {len(rows)} rows × {len(header) - 1} features")
    if args.no_dvc:
        return 0
    if not (ROOT / ".dvc").is_dir():
        dvc("init", "--quiet")
        dvc("remote", "add", "--default", "local", ".mlops/dvc-remote")
        dvc("config", "core.autostage", "false")
    dvc("add", "--quiet", "data")
    dvc("push", "--quiet")
    print("tracked data/ with DVC (data.dvc) and pushed it to the local remote .mlops/dvc-remote")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

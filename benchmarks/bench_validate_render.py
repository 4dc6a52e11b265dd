"""Benchmark: `mlops validate` + `mlops render` against `kubectl kustomize` on equivalent overlays.

Generates a repository of N models (default 100, alternating copies of the two example models)
pinned in all three environments (dev, staging, prod, each pinning a different version), then times,
side by side and interleaved in one run:

  mlops      python -m mlops validate --repo R     (schemas, cross-file checks, user code via ast)
             python -m mlops render --out O --repo R  (3 environments × N models × 7 objects, each checked
                                                       against the strict Kubernetes schema and Pod Security)
  kustomize  kubectl kustomize overlays/<env>       (3 runs: one overlay per environment over one base per
                                                       model, with namespace, labels, images and patches)

The kustomize tree is generated from mlops's own dev output (the bases) and per-environment strategic
merge patches holding exactly what differs, so both sides produce the same objects; the script checks
that they do (parsed YAML, object by object) before timing. It also measures `mlops --help` cold start
and lists which heavy libraries the validate and render processes import.

Usage: .venv/bin/python benchmarks/bench_validate_render.py [--models 100] [--reps 5] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
ENVS = ("dev", "staging", "prod")
HEAVY = ("torch", "evidently", "pandas", "dvc", "docker", "kubernetes", "httpx", "git", "numpy")
ENV_LABEL = "mlops.dev/environment"
PY = sys.executable


# --- the generated repository ------------------------------------------------------------------------------------

def make_repo(dest: Path, n_models: int) -> list[str]:
    """N models pinned everywhere; returns the model names."""
    for part in ("data.dvc", ".dvcignore", ".dvc/config"):
        (dest / part).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / part, dest / part)
    shutil.copytree(ROOT / ".dvc/cache", dest / ".dvc/cache")
    sources = ["cancer-mlp", "digits-cnn"]
    names = []
    for i in range(n_models):
        src = sources[i % 2]
        name = f"{src.split('-')[0]}-{i:03d}"
        names.append(name)
        model_dir = dest / "models" / name
        (model_dir / "versions").mkdir(parents=True)
        text = (ROOT / "models" / src / "model.yaml").read_text("utf-8")
        (model_dir / "model.yaml").write_text(text.replace(f"name: {src}", f"name: {name}", 1), "utf-8")
        shutil.copy2(ROOT / "models" / src / "model.py", model_dir / "model.py")
    (dest / "environments").mkdir()
    for k, env in enumerate(ENVS):
        text = (ROOT / "environments" / f"{env}.yaml").read_text("utf-8")
        text = re.sub(r"(?m)^overrides:\n(?: .*\n)*", "", text)
        gpu = "".join(f"  {n}:\n    resources: {{cpu: \"2\", memory: 2Gi, gpu: 1}}\n"
                      "    tolerations:\n      - {key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}\n"
                      "    runtime_class_name: nvidia\n" for n in names if n.startswith("digits"))
        if env == "prod":
            text += "overrides:\n" + gpu
        pins = "".join(f"  {n}: 2025010{k + 1}-{i:08x}\n" for i, n in enumerate(names))
        text = text.replace("pins: {}\n", "pins:\n" + pins)
        (dest / "environments" / f"{env}.yaml").write_text(text, "utf-8")
    return names


# --- the equivalent kustomize tree -------------------------------------------------------------------------------

def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text("utf-8"))
    return data


def _normalise(obj: dict[str, Any]) -> dict[str, Any]:
    """What kustomize's namespace and labels transformers set: removed before diffing against the base."""
    obj = json.loads(json.dumps(obj))
    meta = obj.get("metadata", {})
    meta.pop("namespace", None)
    meta.get("labels", {}).pop(ENV_LABEL, None)
    template = obj.get("spec", {}).get("template", {}).get("metadata", {})
    template.get("labels", {}).pop(ENV_LABEL, None)
    return obj


def _diff(base: Any, want: Any) -> Any:
    """A strategic-merge patch turning ``base`` into ``want`` (mappings recursively; lists whole)."""
    if isinstance(base, dict) and isinstance(want, dict):
        out = {k: _diff(base.get(k), v) for k, v in want.items() if base.get(k) != v}
        for k in base.keys() - want.keys():
            out[k] = None
        return out
    return want


def make_kustomize(tree: Path, rendered: Path, names: list[str]) -> None:
    """bases/<model>/ from the dev output, overlays/<env>/ with what differs per environment."""
    files = ("configmap", "serviceaccount", "deployment", "service", "hpa", "pdb", "networkpolicy")
    for name in names:
        base = tree / "bases" / name
        base.mkdir(parents=True)
        for f in files:
            (base / f"{f}.yaml").write_text(yaml.safe_dump(_normalise(_load(rendered / "dev" / name / f"{f}.yaml")),
                                                           sort_keys=False))
        (base / "kustomization.yaml").write_text(yaml.safe_dump(
            {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
             "resources": [f"{f}.yaml" for f in files]}, sort_keys=False))
    for env in ENVS:
        overlay = tree / "overlays" / env
        (overlay / "patches").mkdir(parents=True)
        shutil.copy2(rendered / env / "namespace.yaml", overlay / "namespace.yaml")
        namespace = _load(rendered / env / "namespace.yaml")["metadata"]["name"]
        patches = []
        for name in names:
            for f in files:
                want = _normalise(_load(rendered / env / name / f"{f}.yaml"))
                patch = _diff(_normalise(_load(rendered / "dev" / name / f"{f}.yaml")), want)
                if not patch:
                    continue
                patch.update({"apiVersion": want["apiVersion"], "kind": want["kind"]})
                patch.setdefault("metadata", {})["name"] = want["metadata"]["name"]
                rel = f"patches/{name}-{f}.yaml"
                (overlay / rel).write_text(yaml.safe_dump(patch, sort_keys=False))
                patches.append({"path": rel})
        kustomization = {
            "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "namespace": namespace,
            "resources": ["namespace.yaml", *(f"../../bases/{n}" for n in names)],
            "labels": [{"pairs": {ENV_LABEL: env}, "includeSelectors": False, "includeTemplates": True}],
            "patches": patches,
        }
        (overlay / "kustomization.yaml").write_text(yaml.safe_dump(kustomization, sort_keys=False))
        floor = tree / "floor" / env  # the same resources without patches: kustomize's lower bound, not equivalent
        floor.mkdir(parents=True)
        shutil.copy2(overlay / "namespace.yaml", floor / "namespace.yaml")
        kustomization.pop("patches")
        kustomization["resources"] = ["namespace.yaml", *(f"../../bases/{n}" for n in names)]
        (floor / "kustomization.yaml").write_text(yaml.safe_dump(kustomization, sort_keys=False))


def check_equivalent(rendered: Path, built: Path) -> int:
    """Same objects from both sides, compared as parsed YAML; returns the number of objects."""
    total = 0
    for env in ENVS:
        mine = {(o["kind"], o["metadata"]["name"]): o for p in sorted((rendered / env).rglob("*.yaml"))
                if p.name != "kustomization.yaml" for o in [_load(p)]}
        theirs = {(o["kind"], o["metadata"]["name"]): o
                  for o in yaml.safe_load_all((built / f"{env}.yaml").read_text()) if o}
        if mine != theirs:
            wrong = sorted(k for k in mine.keys() | theirs.keys() if mine.get(k) != theirs.get(k))
            raise SystemExit(f"kustomize output differs from mlops render for {env}: {wrong[:5]}")
        total += len(mine)
    return total


# --- timing ------------------------------------------------------------------------------------------------------

def timed(cmd: list[str], cwd: Path, stdout: Path | None = None) -> float:
    start = time.perf_counter()
    with open(stdout, "wb") if stdout else open(os.devnull, "wb") as out:
        proc = subprocess.run(cmd, cwd=cwd, stdout=out, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr.decode()[-2000:]}")
    return elapsed


def heavy_imports(args: list[str], cwd: Path) -> list[str]:
    probe = ("import contextlib, io, json, runpy, sys\nwatch = set(json.loads(sys.argv[2]))\n"
             "sys.argv = ['mlops', *json.loads(sys.argv[1])]\n"
             "with contextlib.redirect_stdout(io.StringIO()):\n"
             "    try:\n        runpy.run_module('mlops', run_name='__main__', alter_sys=True)\n"
             "    except SystemExit:\n        pass\n"
             "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & watch)))\n")
    out = subprocess.run([PY, "-c", probe, json.dumps(args), json.dumps(HEAVY)], cwd=cwd, capture_output=True,
                         text=True, check=True).stdout
    result: list[str] = json.loads(out.strip().splitlines()[-1])
    return result


def top_imports(args: list[str], cwd: Path, n: int = 6) -> list[tuple[str, float]]:
    """The slowest top-level imports (cumulative, ms) of one run, from ``python -X importtime``."""
    proc = subprocess.run([PY, "-X", "importtime", "-m", "mlops", *args], cwd=cwd, capture_output=True, text=True)
    rows = []
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+(\d+) \| (\s*)(\S+)", line)
        if m and len(m.group(2)) <= 1:  # top level only
            rows.append((m.group(3), int(m.group(1)) / 1000))
    return sorted(rows, key=lambda r: -r[1])[:n]


def fmt(seconds: float) -> str:
    return f"{seconds * 1000:8.0f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=100)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the generated directory and print its path")
    opts = parser.parse_args()
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        raise SystemExit("kubectl is not installed: it is needed for `kubectl kustomize`")
    work = Path(tempfile.mkdtemp(prefix="bench-validate-render."))
    try:
        repo, tree = work / "repo", work / "kustomize"
        repo.mkdir()
        names = make_repo(repo, opts.models)
        validate = [PY, "-m", "mlops", "validate", "--repo", str(repo)]
        render = [PY, "-m", "mlops", "render", "--out", str(work / "out"), "--repo", str(repo)]
        timed(validate, ROOT)
        timed(render, ROOT)  # warm the page cache, and the output the kustomize tree is built from
        make_kustomize(tree, work / "out", names)
        built = work / "built"
        built.mkdir()
        for env in ENVS:
            timed([kubectl, "kustomize", f"overlays/{env}"], tree, built / f"{env}.yaml")
        objects = check_equivalent(work / "out", built)
        patches = sum(len(list((tree / "overlays" / e / "patches").iterdir())) for e in ENVS)

        times: dict[str, list[float]] = {"validate": [], "render": [], "mlops": [], "kustomize": [], "floor": []}
        for _ in range(opts.reps):  # interleaved, so both sides see the same machine
            v, r = timed(validate, ROOT), timed(render, ROOT)
            times["validate"].append(v)
            times["render"].append(r)
            times["mlops"].append(v + r)
            times["kustomize"].append(sum(timed([kubectl, "kustomize", f"overlays/{env}"], tree, built / f"{env}.yaml")
                                          for env in ENVS))
            times["floor"].append(sum(timed([kubectl, "kustomize", f"floor/{env}"], tree) for env in ENVS))
        med = {k: statistics.median(v) for k, v in times.items()}

        helps = [timed([PY, "-m", "mlops", "--help"], ROOT) for _ in range(10)]
        bare = [timed([PY, "-c", "pass"], ROOT) for _ in range(10)]
        heavy_validate = heavy_imports(["validate", "--repo", str(repo)], ROOT)
        heavy_render = heavy_imports(["render", "--out", str(work / "probe"), "--repo", str(repo)], ROOT)
        slow_validate = top_imports(["validate", "--repo", str(repo)], ROOT)
        slow_help = top_imports(["--help"], ROOT)

        print(f"repository: {opts.models} models × {len(ENVS)} environments, every model pinned everywhere; "
              f"{objects} objects rendered ({objects // len(ENVS)} per environment)")
        print(f"kustomize:  {opts.models} bases (7 objects each), {len(ENVS)} overlays, {patches} patches; "
              "output identical to mlops render (checked object by object)")
        version = subprocess.run([kubectl, "version", "--client"], capture_output=True, text=True).stdout.split()[-1]
        print(f"machine:    {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, kustomize {version}; "
              f"median of {opts.reps} interleaved runs\n")
        print(f"  mlops validate                         {fmt(med['validate'])}")
        print(f"  mlops render (3 envs, schema + PSS)    {fmt(med['render'])}")
        print(f"  mlops validate + render                {fmt(med['mlops'])}")
        print(f"  kubectl kustomize (3 overlays)         {fmt(med['kustomize'])}")
        print(f"  ratio mlops / kustomize                {med['mlops'] / med['kustomize']:8.2f}×  "
              f"(render alone: {med['render'] / med['kustomize']:.2f}×)")
        print(f"  kustomize floor: same bases, no patches {fmt(med['floor'])}  (not equivalent output; "
              f"mlops / floor {med['mlops'] / med['floor']:.2f}×)\n")
        print(f"  mlops --help cold start (median of 10) {fmt(statistics.median(helps))}  "
              f"(bare `python -c pass`: {statistics.median(bare) * 1000:.0f} ms)")
        print(f"  heavy libraries imported by validate:  {heavy_validate or 'none'}  (watched: {', '.join(HEAVY)})")
        print(f"  heavy libraries imported by render:    {heavy_render or 'none'}")
        print("  slowest top-level imports, validate:   " + ", ".join(f"{m} {t:.0f} ms" for m, t in slow_validate))
        print("  slowest top-level imports, --help:     " + ", ".join(f"{m} {t:.0f} ms" for m, t in slow_help))
        if "torch" in heavy_validate or "evidently" in heavy_validate:
            print("FAIL: the validate path imports torch or evidently")
            return 1
        if opts.keep:
            print(f"\nkept: {work}")
    finally:
        if not opts.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

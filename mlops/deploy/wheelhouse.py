"""The serving image's wheelhouse: the ``mlops`` wheel plus a lock of what ``mlops serve`` needs.

A build has no network (it runs with ``network_mode=none``), so pip inside it installs with
``--no-index`` from wheels collected on the host:

- ``deps/``: every distribution the serving runtime needs, pinned to the versions installed (and
  tested) on this host — the transitive closure of :func:`serving_requirements` — downloaded as
  wheels, with ``requirements.lock`` beside them. Cached: pip runs only when the lock changes. An image
  gets exactly the wheels of its own lock (:func:`select_wheels`); e.g. ``pyarrow`` only for a model
  whose prediction log is Parquet.
- ``mlops/``: the ``mlops`` package itself as a wheel, built from the source tree (reproducibly,
  ``SOURCE_DATE_EPOCH``) so an unchanged package gives the same bytes and the image layer is reused.

The serving image carries only the ``serve`` extra of the package (no dvc, evidently or kubernetes).
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import Version

from mlops.core import atomic
from mlops.core.errors import UsageError, UserError

DIST = "mlops-gitops"
LOCK = "requirements.lock"
# Used when the installed distribution declares no ``serve`` extra: what ``mlops serve`` imports.
FALLBACK_SERVE = ["pydantic", "pyyaml", "numpy", "torch", "safetensors", "prometheus-client", "orjson", "uvicorn",
                  "httptools", "uvloop"]
REPRODUCIBLE_EPOCH = "315532800"  # 1980-01-01, the earliest time a zip file can hold
Log = Callable[[str], None]


def serving_requirements(extra: Sequence[str] = ()) -> list[Requirement]:
    """The ``serve`` extra of the installed ``mlops-gitops`` (else :data:`FALLBACK_SERVE`), plus ``extra``."""
    try:
        declared = md.requires(DIST) or []
    except md.PackageNotFoundError:
        declared = []
    serve = []
    for text in declared:
        req = Requirement(text)
        marker = req.marker
        if marker is not None and marker.evaluate({"extra": "serve"}) and not marker.evaluate({"extra": ""}):
            req.marker = None
            serve.append(req)
    return (serve or [Requirement(name) for name in FALLBACK_SERVE]) + [Requirement(e) for e in extra]


def lock(requirements: Iterable[Requirement]) -> dict[str, str]:
    """Distribution name → installed version for ``requirements`` and everything they need on this host."""
    pinned: dict[str, str] = {}
    todo = list(requirements)
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        if name in pinned or canonicalize_name(DIST) == name:
            continue
        try:
            dist = md.distribution(req.name)
        except md.PackageNotFoundError:
            raise UserError.at("wheelhouse", f"{req.name} is needed by the serving image but is not installed "
                                             f"here; install the serve extra (pip install '{DIST}[serve]')") from None
        if not req.specifier.contains(dist.version, prereleases=True):
            raise UserError.at("wheelhouse", f"{req.name} {dist.version} is installed but the serving image needs "
                                             f"{req}; reinstall the package's serve extra")
        pinned[name] = dist.version
        for text in dist.requires or []:
            sub = Requirement(text)
            extras = {"", *req.extras}
            if sub.marker is None or any(sub.marker.evaluate({"extra": e}) for e in extras):
                todo.append(sub)
    return dict(sorted(pinned.items()))


def lock_text(pins: dict[str, str]) -> str:
    return "".join(f"{name}=={version}\n" for name, version in pins.items())


def _pip(args: Sequence[str], log: Log, env: dict[str, str] | None = None) -> None:
    cmd = [sys.executable, "-I", "-m", "pip", "--disable-pip-version-check", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        tail = " | ".join((proc.stdout + proc.stderr).strip().splitlines()[-4:])
        raise UserError.at("wheelhouse", f"`pip {args[0]}` failed: {tail}")
    for line in proc.stdout.splitlines():
        if line.startswith(("Saved", "Successfully", "Collecting")):
            log(line)


def build_deps(dest: Path, pins: dict[str, str], *, find_links: Sequence[str] = (), log: Log = print) -> Path:
    """Download wheels of ``pins`` into ``dest`` (skipped when its lock already says exactly that)."""
    text = lock_text(pins)
    if (dest / LOCK).is_file() and (dest / LOCK).read_text(encoding="utf-8") == text:
        log(f"wheelhouse {dest} is up to date ({len(pins)} distributions)")
        return dest
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        reqs = Path(tmp) / LOCK
        reqs.write_text(text, encoding="utf-8")
        links = [arg for link in find_links for arg in ("--find-links", str(link))]
        _pip(["download", "--only-binary=:all:", "--no-deps", "--dest", str(dest), *links, "-r", str(reqs)], log)
    atomic.write_text(dest / LOCK, text)
    log(f"wheelhouse {dest}: {len(pins)} distributions")
    return dest


def select_wheels(deps: Path, pins: dict[str, str]) -> list[Path]:
    """The one wheel of each pinned distribution in ``deps`` (and nothing else, so the image layer is stable)."""
    found: dict[str, Path] = {}
    for wheel in sorted(deps.glob("*.whl")):
        try:
            name, version, _, _ = parse_wheel_filename(wheel.name)
        except InvalidWheelFilename:
            continue
        if pins.get(name) is not None and Version(pins[name]) == version:
            found.setdefault(name, wheel)
    missing = [f"{n}=={v}" for n, v in pins.items() if n not in found]
    if missing:
        raise UserError.at(str(deps), f"the wheelhouse lacks {', '.join(missing)}; rebuild it "
                                      "(scripts/build_wheelhouse.sh) or omit --wheelhouse")
    return [found[n] for n in pins]


def source_tree() -> Path | None:
    """The source tree of the running ``mlops`` package, when it is installed from one (editable)."""
    import mlops

    root = Path(mlops.__file__).resolve().parent.parent
    return root if (root / "pyproject.toml").is_file() and (root / "mlops" / "__init__.py").is_file() else None


def build_mlops_wheel(dest: Path, *, log: Log = print) -> Path:
    """Build the ``mlops`` wheel into ``dest`` (emptied first) from a clean copy of the source tree."""
    src = source_tree()
    if src is None:
        raise UsageError("the running mlops is not installed from a source tree; pass --wheelhouse DIR with "
                         "deps/ and mlops/ (an mlops-gitops wheel) built by scripts/build_wheelhouse.sh")
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "src"
        copy.mkdir()
        for name in ("pyproject.toml", "README.md", "LICENSE"):
            if (src / name).is_file():
                shutil.copy2(src / name, copy / name)
        shutil.copytree(src / "mlops", copy / "mlops", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        env = {**os.environ, "SOURCE_DATE_EPOCH": REPRODUCIBLE_EPOCH}
        _pip(["wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", str(dest), str(copy)], log, env)
    wheels = sorted(dest.glob("*.whl"))
    log(f"built {wheels[0].name}")
    return wheels[0]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlops.deploy.wheelhouse", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dest", type=Path, help="wheelhouse directory (gets deps/ and mlops/)")
    parser.add_argument("--find-links", action="append", default=[], metavar="DIR",
                        help="extra wheel directory for pip (e.g. where a CPU torch wheel lies)")
    args = parser.parse_args(argv)
    try:
        build_deps(args.dest / "deps", lock(serving_requirements()), find_links=args.find_links)
        build_mlops_wheel(args.dest / "mlops")
    except (UserError, UsageError) as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The DVC artifact store: DVC tracks each version's artifact directory and pushes it to the remote.

Layout, all written by DVC itself (``dvc add``), next to the version record::

    models/<model>/versions/<version>.yaml   the record (git, immutable; written by mlops train)
    models/<model>/versions/<version>.dvc    DVC's pointer: md5 of the directory (git)
    models/<model>/versions/<version>/       the artifact (git-ignored by DVC; in the DVC cache/remote)

``put`` is ``dvc add`` + ``dvc push`` to the default remote; ``fetch`` is ``dvc pull`` of the pointer
followed by verification against the record. DVC runs as a subprocess of this interpreter
(``python -m dvc``), so its import cost and global state stay out of the calling process.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from mlops.adapters.artifacts import DVC_SCHEME
from mlops.core.errors import Problem, UserError
from mlops.core.lineage import verify_artifact
from mlops.core.spec.record import VersionRecord


def run_dvc(root: Path, *args: str, where: str = "data.dvc", timeout: float = 600) -> str:
    """Run ``dvc ARGS`` in ``root``; a failure is a :class:`UserError` carrying DVC's own message."""
    # -I: DVC runs in the repository (a pull request's files), which must not be able to shadow the dvc package
    proc = subprocess.run([sys.executable, "-I", "-m", "dvc", *args], cwd=root, capture_output=True, text=True,
                          timeout=timeout, check=False)
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stderr + proc.stdout).splitlines() if ln.strip()]
        detail = next((ln for ln in lines if ln.startswith("ERROR")), lines[-1] if lines else "no output")
        raise UserError(Problem(where, 1, 1, f"`dvc {' '.join(args)}` failed: {detail.strip()}"))
    return proc.stdout


def ensure_data(root: Path, rel: str, *, wait_s: float = 0.0) -> bool:
    """Whether ``root/rel`` exists, after ``dvc pull data.dvc`` (cache or remote) when it was missing.

    ``wait_s`` > 0: do not pull, wait that long for another process (e.g. local rank 0) to pull it.
    """
    path = root / rel
    if wait_s > 0:
        deadline = time.monotonic() + wait_s
        while not path.is_file() and time.monotonic() < deadline:
            time.sleep(0.5)
    elif not path.is_file():
        run_dvc(root, "pull", "--quiet", "data.dvc", where="data.dvc")
    return path.is_file()


def _manifest(root: Path, md5: str) -> list[dict[str, str]] | None:
    """DVC's ``.dir`` manifest (relpath → md5 of each file) from the cache or the default remote."""
    from mlops.core.dvcmeta import default_remote

    homes = [root / ".dvc" / "cache"]
    remote = default_remote(root)
    if remote is not None:
        homes.append(remote)
    for home in homes:
        path = home / "files" / "md5" / md5[:2] / md5[2:]
        if path.is_file():
            entries = json.loads(path.read_text("utf-8"))
            return entries if isinstance(entries, list) else None
    return None


def changed_since_dvc(root: Path, rel: str, tracked_md5: str) -> str | None:
    """Why ``root/rel`` is not the file DVC recorded (``tracked_md5`` of ``data.dvc``), or None.

    Compares the file's md5 (DVC 3 hashes raw bytes) with the entry of DVC's ``.dir`` manifest.
    """
    out, _, inner = rel.partition("/")
    entries = _manifest(root, tracked_md5) if tracked_md5.endswith(".dir") else None
    if entries is None:
        return None
    expected = next((e.get("md5") for e in entries if e.get("relpath") == inner), None)
    if expected is None:
        return f"{rel} is not in the data version data.dvc records"
    digest = hashlib.md5(usedforsecurity=False)
    with (root / rel).open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    if digest.hexdigest() != expected:
        return (f"{rel} differs from the data version data.dvc records; run `dvc add {out}` to record the "
                f"change (and commit data.dvc) or `dvc checkout data.dvc` to restore it")
    return None


class DvcStore:
    """Artifacts as DVC-tracked directories under ``models/<model>/versions/``."""

    scheme = "dvc"

    def __init__(self, root: Path, *, push: bool = True) -> None:
        self.root = Path(root).resolve()
        self.push = push

    def rel(self, model: str, version: str) -> str:
        return f"models/{model}/versions/{version}"

    def uri(self, model: str, version: str) -> str:
        return DVC_SCHEME + self.rel(model, version)

    def put(self, model: str, version: str, directory: Path) -> str:
        rel = self.rel(model, version)
        target, pointer = self.root / rel, self.root / f"{rel}.dvc"
        if target.exists() or pointer.exists():
            raise UserError(Problem(f"{rel}.dvc", 1, 1, f"artifact {model}@{version} is already tracked; "
                                                        "stored artifacts are immutable"))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(directory, target)
        try:
            run_dvc(self.root, "add", "--quiet", rel, where=f"{rel}.dvc")
            if self.push:
                run_dvc(self.root, "push", "--quiet", f"{rel}.dvc", where=f"{rel}.dvc")
        except BaseException:
            pointer.unlink(missing_ok=True)
            shutil.rmtree(target, ignore_errors=True)
            raise
        return self.uri(model, version)

    def fetch(self, model: str, version: str, record: VersionRecord) -> Path:
        """The verified artifact directory; checked out (or downloaded) by DVC when missing or altered."""
        rel = self.rel(model, version)
        target, where = self.root / rel, f"{rel}.yaml"
        try:
            verify_artifact(target, record.artifact.digest, record.artifact.files, where=where)
            return target
        except UserError:
            if not (self.root / f"{rel}.dvc").is_file():
                raise UserError(Problem(where, 1, 1, f"no DVC pointer {rel}.dvc for this version; expected it "
                                                     "committed next to the record")) from None
        run_dvc(self.root, "pull", "--quiet", "--force", f"{rel}.dvc", where=f"{rel}.dvc")
        verify_artifact(target, record.artifact.digest, record.artifact.files, where=where)
        return target

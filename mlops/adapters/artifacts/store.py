"""A plain directory artifact store (a shared disk, an NFS mount, a test dir).

It keeps one immutable artifact directory per (model, version). ``fetch`` never returns an artifact that
does not match its version record: it verifies files and digest first.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from mlops.adapters.artifacts import record_where
from mlops.core.errors import Problem, UserError
from mlops.core.lineage import verify_artifact
from mlops.core.spec.record import VersionRecord


class DirectoryStore:
    """``<root>/<model>/<version>/``: copied in atomically (temp dir + rename), never overwritten."""

    scheme = "file"

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()

    def path(self, model: str, version: str) -> Path:
        return self.root / model / version

    def put(self, model: str, version: str, directory: Path) -> str:
        target = self.path(model, version)
        if target.exists():
            raise UserError(Problem(str(target), 1, 1, f"artifact {model}@{version} is already stored; "
                                                       "stored artifacts are immutable"))
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{version}.", dir=target.parent))
        try:
            for item in sorted(Path(directory).iterdir()):
                if item.is_file():
                    shutil.copy2(item, staging / item.name)
            staging.rename(target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return target.as_uri()

    def fetch(self, model: str, version: str, record: VersionRecord) -> Path:
        target = self.path(model, version)
        verify_artifact(target, record.artifact.digest, record.artifact.files, where=record_where(record))
        return target

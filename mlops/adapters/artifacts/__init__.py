"""The ArtifactStore seam: where trained artifacts (and the data they were trained on) live.

Verbs use only what this module exports — the :class:`ArtifactStore` Protocol, :func:`store_for` (the store
that holds a URI), :func:`default_store` (where new artifacts go), :func:`fetch_verified`, and the two data
helpers — never a concrete store. The implementations:

* :mod:`mlops.adapters.artifacts.dvc` — the DVC store (``dvc add`` + ``dvc push`` to the default remote);
* :mod:`mlops.adapters.artifacts.store` — a plain directory store (a shared disk, an NFS mount, a test dir);
* :mod:`mlops.adapters.artifacts.loader` — :func:`load_verified` (digest first, then ``torch.export.load``).

Nothing here imports torch or DVC at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

from mlops.core.errors import UserError
from mlops.core.spec.record import VersionRecord

DVC_SCHEME = "dvc://"
FILE_SCHEME = "file://"


class ArtifactStore(Protocol):
    """Where trained artifacts live. ``fetch`` never returns an artifact that does not match its record."""

    def put(self, model: str, version: str, directory: Path) -> str:
        """Store the artifact in ``directory`` (which the store may move) and return its URI."""
        ...

    def fetch(self, model: str, version: str, record: VersionRecord) -> Path:
        """A local directory holding the artifact, verified against ``record``."""
        ...


def record_where(record: VersionRecord) -> str:
    return f"models/{record.model}/versions/{record.version}.yaml"


def store_for(root: Path, uri: str, *, where: str = "artifact.uri") -> ArtifactStore:
    """The store that holds the artifact at ``uri``: ``dvc://…`` (the repository's DVC remote) or
    ``file:///<dir>/<model>/<version>`` (a directory store rooted at ``<dir>``)."""
    if uri.startswith(DVC_SCHEME):
        from mlops.adapters.artifacts.dvc import DvcStore

        return DvcStore(root, push=False)
    if uri.startswith(FILE_SCHEME):
        from mlops.adapters.artifacts.store import DirectoryStore

        return DirectoryStore(Path(unquote(urlsplit(uri).path)).parent.parent)
    raise UserError.at(where, f"artifact.uri {uri!r} names no store this installation reads; expected "
                              f"{DVC_SCHEME}… (the DVC remote) or {FILE_SCHEME}… (a directory)")


def default_store(root: Path, *, push: bool = True) -> ArtifactStore:
    """Where ``mlops train`` stores new artifacts: the repository's DVC remote (``push`` off: the cache only)."""
    from mlops.adapters.artifacts.dvc import DvcStore

    return DvcStore(root, push=push)


def fetch_verified(root: Path, record: VersionRecord) -> Path:
    """The artifact of ``record`` as a local directory, every file and the digest checked against it."""
    where, uri = record_where(record), record.artifact.uri
    if uri.startswith(FILE_SCHEME) and not uri.rstrip("/").endswith(f"/{record.model}/{record.version}"):
        raise UserError.at(where, f"artifact.uri {uri!r} is not a directory store's location; expected "
                                  f"{FILE_SCHEME}/<dir>/{record.model}/{record.version}")
    return store_for(root, uri, where=where).fetch(record.model, record.version, record)


def data_file_at(root: Path, md5: str, rel: str) -> Path:
    """A readable copy of the tracked file ``rel`` as the data version ``md5`` (a record's) holds it."""
    from mlops.adapters.artifacts.versions import version_file

    return version_file(root, md5, rel)


def record_data(root: Path, out: str = "data", *, push: bool = True) -> str:
    """Record the data directory ``out`` as a new data version (``dvc add``, ``dvc push``); the new pointer text."""
    from mlops.adapters.artifacts.versions import record_data as record

    return record(root, out, push=push)


def ensure_data(root: Path, rel: str, *, wait_s: float = 0.0) -> bool:
    """Whether the tracked data file ``root/rel`` is there, after fetching the data version when missing."""
    from mlops.adapters.artifacts import dvc

    return dvc.ensure_data(root, rel, wait_s=wait_s)


def data_changed(root: Path, rel: str, tracked_md5: str) -> str | None:
    """Why ``root/rel`` is not the file the data version ``tracked_md5`` holds, or None when it is."""
    from mlops.adapters.artifacts import dvc

    return dvc.changed_since_dvc(root, rel, tracked_md5)

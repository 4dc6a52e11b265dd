"""Data versions by content address: read a past version's file, record a new version of the data.

A version record names its data version (the md5 of ``data.dvc``'s directory). The monitor compares
production with *that* data, whatever the checkout's ``data.dvc`` says now: the directory manifest and the
file are DVC objects under ``files/md5/<2>/<30>`` in the cache or the default remote (a directory or any
fsspec URL, e.g. ``s3://…`` with credentials from the environment). An object fetched from the remote is
checked against its md5 before it enters the cache, so what is read is exactly what was trained on.

A new data version (the retraining PR's) is ``dvc add`` + ``dvc push`` of the data directory, run by DVC.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from mlops.adapters.artifacts.dvc import run_dvc
from mlops.core.dvcmeta import DATA_POINTER, default_remote_url
from mlops.core.errors import Problem, UserError

CHUNK = 1 << 20


def _relative(md5: str) -> str:
    return f"files/md5/{md5[:2]}/{md5[2:]}"


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _cached(root: Path, md5: str, what: str) -> Path:
    """The object ``md5`` in the cache, copied there from the default remote (and verified) when missing."""
    target = root / ".dvc" / "cache" / _relative(md5)
    if target.is_file():
        return target
    url = default_remote_url(root)
    if url is None:
        raise UserError(Problem(DATA_POINTER, 1, 1, f"{what} (DVC object {md5}) is not in the cache and DVC has no "
                                                    "default remote; expected `dvc remote add -d …`"))
    import fsspec

    source = f"{url.rstrip('/')}/{_relative(md5)}"
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".fetch-")
    try:
        with os.fdopen(fd, "wb") as out, fsspec.open(source, "rb") as src:
            while chunk := src.read(CHUNK):
                out.write(chunk)
        if _md5(Path(tmp)) != md5.removesuffix(".dir"):
            raise UserError(Problem(DATA_POINTER, 1, 1, f"{what}: the remote's object {md5} does not hash to its "
                                                        "name; refusing corrupt data"))
        os.replace(tmp, target)
    except FileNotFoundError:
        raise UserError(Problem(DATA_POINTER, 1, 1, f"{what} (DVC object {md5}) is in neither the cache nor the "
                                                    f"remote {url}; expected it pushed when it was recorded")) from None
    finally:
        Path(tmp).unlink(missing_ok=True)
    return target


def version_file(root: Path, md5: str, rel: str) -> Path:
    """A readable copy of ``rel`` (e.g. ``data/digits/digits.csv``) as the data version ``md5`` holds it."""
    if not md5.endswith(".dir"):
        return _cached(root, md5, rel)
    manifest = _cached(root, md5, f"the manifest of data version {md5}")
    try:
        entries = json.loads(manifest.read_bytes())
        inner = rel.split("/", 1)[1] if "/" in rel else rel
        file_md5 = next(str(e["md5"]) for e in entries if e.get("relpath") == inner)
    except StopIteration:
        raise UserError(Problem(DATA_POINTER, 1, 1, f"{rel} is not in data version {md5}")) from None
    except (ValueError, TypeError, KeyError):
        raise UserError(Problem(DATA_POINTER, 1, 1, f"the manifest of data version {md5} is corrupt; expected "
                                                    "DVC's .dir JSON")) from None
    return _cached(root, file_md5, rel)


def record_data(root: Path, out: str = "data", *, push: bool = True) -> str:
    """``dvc add`` the data directory ``out`` (and ``dvc push`` it); returns the new ``data.dvc`` text."""
    run_dvc(root, "add", "--quiet", out, where=DATA_POINTER)
    if push:
        run_dvc(root, "push", "--quiet", DATA_POINTER, where=DATA_POINTER)
    return (root / DATA_POINTER).read_text("utf-8")

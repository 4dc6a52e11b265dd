"""Read DVC's own metadata (``data.dvc`` and the ``.dir`` manifest) without re-hashing anything.

The one reader of ``.dvc`` pointer files in the framework: the data version (:func:`data_version`), a
pointer's tracked output (:func:`pointer_output`), the files a data version holds (:func:`tracked_tree`).
"""

from __future__ import annotations

import configparser
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mlops.core import yamlpos
from mlops.core.errors import Problem, UserError

DATA_POINTER = "data.dvc"  # DVC's pointer for the tracked data/ directory


@dataclass(frozen=True)
class Output:
    """The one output a ``.dvc`` pointer tracks, as DVC recorded it."""

    path: str
    md5: str  # a directory's ends in ".dir"
    nfiles: int | None = None


def pointer_output(data: object, *, single: bool = False) -> Output | None:
    """The (first; with ``single``, the only) tracked output of a parsed ``.dvc`` file, or None."""
    outs = data.get("outs") if isinstance(data, dict) else None
    ok = isinstance(outs, list) and bool(outs) and (len(outs) == 1 or not single)
    out = outs[0] if ok and isinstance(outs, list) and isinstance(outs[0], dict) else None
    if out is None or not isinstance(out.get("md5"), str) or not isinstance(out.get("path"), str):
        return None
    nfiles = out.get("nfiles")
    return Output(out["path"], out["md5"], nfiles if isinstance(nfiles, int) else None)


def read_pointer(repo: Path, dvc_file: str = DATA_POINTER) -> tuple[yamlpos.Document, Output]:
    """Parse ``dvc_file``; a malformed pointer is an error at its position."""
    doc = yamlpos.load(repo / dvc_file, dvc_file)
    outs = doc.data.get("outs") if isinstance(doc.data, dict) else None
    if not isinstance(outs, list) or not outs or not isinstance(outs[0], dict):
        raise UserError(doc.problem(("outs",), "expected 'outs' with one tracked directory (run `dvc add data`)"))
    output = pointer_output(doc.data)
    if output is None:
        raise UserError(doc.problem(("outs", 0), "expected 'md5' and 'path' in the tracked output"))
    return doc, output


def data_version(repo: Path, dvc_file: str = DATA_POINTER, *, required: bool = True) -> str:
    """The md5 DVC recorded for the tracked data; '' when the pointer is missing and not ``required``."""
    if not required and not (repo / dvc_file).is_file():
        return ""
    return read_pointer(repo, dvc_file)[1].md5


def data_version_of(text: str) -> str:
    """The md5 in the text of a pointer file (e.g. read from a git revision); '' when there is none."""
    try:
        data = yamlpos.parse(text, DATA_POINTER).data if text.strip() else None
    except UserError:
        return ""
    output = pointer_output(data)
    return output.md5 if output is not None else ""


@dataclass(frozen=True)
class TrackedTree:
    """The files DVC tracks under one output directory, as DVC recorded them."""

    out: str  # e.g. "data"
    md5: str  # e.g. "3f…a1.dir"
    files: frozenset[str]  # paths relative to the repository root, e.g. "data/digits/digits.csv"
    dvc_file: str
    md5s: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)  # file → its DVC md5


def _object_path(root: Path, md5: str) -> Path:
    return root / "files" / "md5" / md5[:2] / md5[2:]


def default_remote(repo: Path) -> Path | None:
    """The directory of DVC's default remote, when it is a local directory."""
    url = default_remote_url(repo)
    return None if url is None or "://" in url else Path(url)


def default_remote_url(repo: Path) -> str | None:
    """DVC's default remote: an absolute directory, or a URL (``s3://bucket/path``) as configured."""
    cfg = configparser.ConfigParser(interpolation=None)
    for name in ("config", "config.local"):
        try:
            cfg.read(repo / ".dvc" / name, encoding="utf-8")
        except (configparser.Error, UnicodeDecodeError) as exc:
            line = getattr(exc, "lineno", None) or 1
            raise UserError(Problem(f".dvc/{name}", line, 1, f"cannot parse DVC's config ({type(exc).__name__}); "
                                    "expected the INI format `dvc config` writes")) from None
    remote = cfg.get("core", "remote", fallback="")
    if not remote:
        return None
    url = cfg.get(f"'remote \"{remote}\"'", "url", fallback="")
    if not url or "://" in url:
        return url or None
    path = Path(url)
    return str(path if path.is_absolute() else (repo / ".dvc" / path).resolve())


def tracked_tree(repo: Path, dvc_file: str = DATA_POINTER) -> TrackedTree:
    """List what ``dvc_file`` tracks, from the ``.dir`` manifest in the cache or the default remote."""
    doc, output = read_pointer(repo, dvc_file)
    md5, path = output.md5, output.path
    if not md5.endswith(".dir"):
        return TrackedTree(path, md5, frozenset({path}), dvc_file, {path: md5})
    for manifest in _objects(repo, md5):
        if manifest.is_file():
            md5s = _manifest_files(manifest, path, doc, repo)
            return TrackedTree(path, md5, frozenset(md5s), dvc_file, md5s)
    line, col = doc.where(("outs", 0, "md5"))
    raise UserError(Problem(dvc_file, line, col,
                            f"DVC manifest {md5} is in neither the cache nor the default remote; "
                            "expected `scripts/materialize_data.py` or `dvc pull` to have run"))


def _objects(repo: Path, md5: str) -> list[Path]:
    """Where DVC keeps the object ``md5``: the cache, then the default remote."""
    candidates = [_object_path(repo / ".dvc" / "cache", md5)]
    remote = default_remote(repo)
    if remote is not None:
        candidates.append(_object_path(remote, md5))
    return candidates


def _manifest_files(manifest: Path, out: str, doc: yamlpos.Document, repo: Path) -> dict[str, str]:
    """Paths listed in a DVC ``.dir`` manifest (a JSON list of ``{"md5", "relpath"}`` objects) → their md5."""
    try:
        entries = json.loads(manifest.read_bytes())
        return {f"{out}/{e['relpath']}": str(e.get("md5", "")) for e in entries if isinstance(e["relpath"], str)}
    except (ValueError, TypeError, KeyError, AttributeError):
        line, col = doc.where(("outs", 0, "md5"))
        shown = manifest.relative_to(repo) if manifest.is_relative_to(repo) else manifest
        raise UserError(Problem(doc.path, line, col, f"DVC manifest {shown} is corrupt (not a list of relpath "
                                "entries); expected DVC's .dir JSON (repair it with `dvc pull --force`)")) from None


def locate(repo: Path, tree: TrackedTree, path: str) -> Path | None:
    """A readable copy of tracked file ``path``: the workspace's, else DVC's cache or default remote's object."""
    if (repo / path).is_file():
        return repo / path
    md5 = tree.md5s.get(path)
    if not md5:
        return None
    return next((p for p in _objects(repo, md5) if p.is_file()), None)


def contains(tree: TrackedTree, path: str) -> bool:
    """True when ``path`` is a tracked file or a directory holding tracked files."""
    prefix = path.rstrip("/") + "/"
    return path in tree.files or any(f.startswith(prefix) for f in tree.files)


def changed_files(repo: Path, old_md5: str, new_md5: str, out: str = "data") -> set[str] | None:
    """Tracked files (``data/…``) that differ between two data versions; None when a manifest is not at hand."""
    sides = []
    for md5 in (old_md5, new_md5):
        manifest = next((p for p in _objects(repo, md5) if p.is_file()), None) if md5.endswith(".dir") else None
        if manifest is None:
            return None
        try:
            entries = json.loads(manifest.read_bytes())
            sides.append({f"{out}/{e['relpath']}": str(e.get("md5", "")) for e in entries})
        except (ValueError, TypeError, KeyError):
            return None
    old, new = sides
    return {f for f in set(old) | set(new) if old.get(f) != new.get(f)}

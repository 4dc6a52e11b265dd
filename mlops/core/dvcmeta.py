"""Read DVC's own metadata (``data.dvc`` and the ``.dir`` manifest) without re-hashing anything."""

from __future__ import annotations

import configparser
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mlops.core import yamlpos
from mlops.core.errors import Problem, UserError


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
        return None
    path = Path(url)
    return path if path.is_absolute() else (repo / ".dvc" / path).resolve()


def tracked_tree(repo: Path, dvc_file: str = "data.dvc") -> TrackedTree:
    """List what ``dvc_file`` tracks, from the ``.dir`` manifest in the cache or the default remote."""
    doc = yamlpos.load(repo / dvc_file, dvc_file)
    outs = doc.data.get("outs")
    if not isinstance(outs, list) or not outs or not isinstance(outs[0], dict):
        raise UserError(doc.problem(("outs",), "expected 'outs' with one tracked directory (run `dvc add data`)"))
    out = outs[0]
    md5, path = out.get("md5"), out.get("path")
    if not isinstance(md5, str) or not isinstance(path, str):
        raise UserError(doc.problem(("outs", 0), "expected 'md5' and 'path' in the tracked output"))
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

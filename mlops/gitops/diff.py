"""``mlops diff``: the per-environment manifest diff between two git revisions.

Each side is rendered in memory (``mlops.render``) from its own ``models/`` and ``environments/``
(``git archive`` of the revision; the working tree when ``head`` is None), then compared file by file.
:func:`manifest_diff` returns structured data (per environment: added, removed and changed files, the
notable changes, the unified diff) for the pull-request report; :meth:`ManifestDiff.text` prints it.
"""

from __future__ import annotations

import difflib
import json
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mlops.adapters.scm import open_scm, repository_url
from mlops.core.errors import Problem, UsageError, UserError
from mlops.render import kubernetes_environments, load_renderable, render_repository
from mlops.render.templates import parse_yaml

WORKING_TREE = "working tree"


@dataclass(frozen=True)
class EnvDiff:
    """What changes in one environment's manifests (paths are relative to ``<out>/<env>/``)."""

    env: str
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # e.g. "digits-cnn: image …:v1 → …:v2"
    unified: str = ""

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def summary(self) -> str:
        if self.empty:
            return f"{self.env}: no changes"
        counts = f"{len(self.added)} added, {len(self.removed)} removed, {len(self.changed)} changed"
        return f"{self.env}: {counts}" + (f" — {'; '.join(self.notes)}" if self.notes else "")


@dataclass(frozen=True)
class ManifestDiff:
    base: str  # e.g. "main (1a2b3c4d5e6f)"
    head: str  # e.g. "working tree"
    envs: list[EnvDiff]

    @property
    def empty(self) -> bool:
        return all(e.empty for e in self.envs)

    def to_dict(self) -> dict[str, Any]:
        return {"base": self.base, "head": self.head, "envs": [asdict(e) | {"summary": e.summary()} for e in self.envs]}

    def text(self) -> str:
        """Unified diffs grouped per environment, then one summary line per environment."""
        parts = [f"manifest diff {self.base} → {self.head}"]
        for env in self.envs:
            if not env.empty:
                parts.append(f"\n=== {env.env} ===\n{env.unified.rstrip()}")
        parts.append("")
        parts.extend(env.summary() for env in self.envs)
        return "\n".join(parts) + "\n"


# --- git ------------------------------------------------------------------------------------------------

def export(root: Path, ref: str, dest: Path) -> Path:
    """Extract ``models/`` and ``environments/`` of revision ``ref`` under ``dest``; returns the repo root there."""
    scm = open_scm(root)
    sha = scm.require(ref)
    if "environments" not in scm.list_paths(sha, ["models", "environments"]):
        raise UserError(Problem("environments", 1, 1, f"revision {ref} ({sha[:12]}) has no environments/ directory; "
                                                      "expected an mlops repository at that revision"))
    return scm.export(sha, ["models", "environments"], dest)


# --- rendering and comparing --------------------------------------------------------------------------------

def _render_side(root: Path, label: str, envs: Sequence[str] | None,
                 repo_url: str | None) -> dict[str, dict[str, bytes]]:
    try:
        repo = load_renderable(root)
        names = [e for e in kubernetes_environments(repo) if envs is None or e in envs]
        return {r.name: r.files for r in render_repository(repo, names, repo_url=repo_url)} if names else {}
    except UserError as exc:
        raise UserError([Problem(p.path, p.line, p.col, f"at {label}: {p.message}") for p in exc.problems]) from None


def _rendered(root: Path, ref: str | None, envs: Sequence[str] | None) -> tuple[str, dict[str, dict[str, bytes]]]:
    if ref is None:
        return WORKING_TREE, _render_side(root, WORKING_TREE, envs, repository_url(root))
    with tempfile.TemporaryDirectory(prefix="mlops-diff-") as tmp:
        side_root = export(root, ref, Path(tmp))
        sha = open_scm(root).require(ref)
        label = f"{ref} ({sha[:12]})" if not sha.startswith(ref) else sha[:12]
        return label, _render_side(side_root, f"revision {label}", envs, repository_url(root))


def _docs(data: bytes) -> list[dict[str, Any]]:
    try:
        return [d for d in parse_yaml(data.decode("utf-8")) if isinstance(d, dict)]
    except Exception:
        return []


def _version(obj: dict[str, Any]) -> Any:
    return (obj.get("metadata") or {}).get("annotations", {}).get("mlops.dev/version")


def _containers(obj: dict[str, Any], key: str) -> list[Any]:
    spec = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
    return [c.get(key) for c in spec.get("containers") or []]


def _config(obj: dict[str, Any]) -> Any:
    """A ConfigMap's data without what every version change changes anyway."""
    try:
        data = {k: json.loads(v) for k, v in (obj.get("data") or {}).items()}
    except (TypeError, ValueError):
        return obj.get("data")
    for value in data.values():
        if isinstance(value, dict):
            value.pop("version", None)
            value.pop("artifact_digest", None)
    return data


def _notes_for(path: str, old: bytes, new: bytes) -> list[str]:
    model = path.split("/", 1)[0] if "/" in path else None
    olds, news = _docs(old), _docs(new)
    if model is None or not olds or not news:
        return []
    a, b, kind = olds[0], news[0], news[0].get("kind")
    notes: list[str] = []
    if kind == "Deployment":
        version_a, version_b = _version(a), _version(b)
        if version_a != version_b:
            notes.append(f"{model}: version {version_a} → {version_b}")
        elif _containers(a, "image") != _containers(b, "image"):
            notes.append(f"{model}: image {', '.join(map(str, _containers(a, 'image')))} → "
                         f"{', '.join(map(str, _containers(b, 'image')))}")
        if _containers(a, "resources") != _containers(b, "resources"):
            notes.append(f"{model}: resources changed")
    elif kind == "HorizontalPodAutoscaler":
        sa, sb = a.get("spec", {}), b.get("spec", {})
        ra = f"{sa.get('minReplicas')}–{sa.get('maxReplicas')}"
        rb = f"{sb.get('minReplicas')}–{sb.get('maxReplicas')}"
        if ra != rb:
            notes.append(f"{model}: replicas {ra} → {rb}")
    elif kind == "ConfigMap" and _config(a) != _config(b):
        notes.append(f"{model}: serving config changed")
    return notes


def _model_notes(files: list[str], verb: str, side: dict[str, bytes]) -> list[str]:
    notes = []
    for path in files:
        if path.endswith("/deployment.yaml"):
            docs = _docs(side[path])
            version = _version(docs[0]) if docs else None
            notes.append(f"{path.split('/', 1)[0]} {verb}" + (f" ({version})" if version else ""))
    return notes


def compare_env(env: str, old: dict[str, bytes], new: dict[str, bytes]) -> EnvDiff:
    added = sorted(set(new) - set(old))
    removed = sorted(set(old) - set(new))
    changed = sorted(p for p in set(old) & set(new) if old[p] != new[p])
    chunks: list[str] = []
    notes = _model_notes(added, "added", new) + _model_notes(removed, "removed", old)
    for path in sorted(set(added) | set(removed) | set(changed)):
        a = old.get(path, b"").decode("utf-8").splitlines(keepends=True)
        b = new.get(path, b"").decode("utf-8").splitlines(keepends=True)
        src = f"a/{env}/{path}" if path in old else "/dev/null"
        dst = f"b/{env}/{path}" if path in new else "/dev/null"
        chunks.append("".join(difflib.unified_diff(a, b, src, dst)))
        if path in changed:
            notes.extend(_notes_for(path, old[path], new[path]))
    return EnvDiff(env, added, removed, changed, notes, "".join(c if c.endswith("\n") else c + "\n" for c in chunks))


def manifest_diff(root: Path, base: str, head: str | None = None,
                  envs: Sequence[str] | None = None) -> ManifestDiff:
    """Render ``base`` and ``head`` (None: the working tree) of the repository at ``root`` and compare them.

    ``envs`` limits the environments (an unknown name on both sides is a usage error). An environment
    present on one side only shows all its files as added or removed.
    """
    base_label, old = _rendered(root, base, envs)
    head_label, new = _rendered(root, head, envs)
    if envs:
        unknown = [e for e in envs if e not in old and e not in new]
        if unknown:
            raise UsageError(f"no kubernetes environment named {', '.join(map(repr, unknown))} at either revision")
    order = list(new) + [e for e in old if e not in new]
    return ManifestDiff(base_label, head_label, [compare_env(e, old.get(e, {}), new.get(e, {})) for e in order])

"""Writing rendered environments to disk atomically, and checking a committed tree against them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from mlops.core.atomic import write_tree
from mlops.core.errors import Problem
from mlops.render.render import RenderedEnvironment

DEFAULT_OUT = Path("build/manifests")


def _selected(env: RenderedEnvironment, model: str | None) -> tuple[str, dict[str, bytes]]:
    """The directory (relative to ``<out>``) and files that ``env`` owns, for one model or the whole environment."""
    if model is None:
        return env.name, env.files
    prefix = f"{model}/"
    return f"{env.name}/{model}", {k[len(prefix):]: v for k, v in env.files.items() if k.startswith(prefix)}


def write(out: Path, rendered: Sequence[RenderedEnvironment], model: str | None = None) -> list[Path]:
    """Replace ``<out>/<env>/`` (or ``<out>/<env>/<model>/``) by the rendered files, each directory atomically."""
    written = []
    for env in rendered:
        rel, files = _selected(env, model)
        write_tree(out / rel, files)
        written.append(out / rel)
    return written


def _on_disk(directory: Path) -> set[str]:
    if not directory.is_dir():
        return set()
    return {p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file() or p.is_symlink()}


def compare(out: Path, rendered: Sequence[RenderedEnvironment], model: str | None = None,
            *, whole_tree: bool = False) -> list[Problem]:
    """One problem per file of ``out`` that is stale, missing or extra; nothing is written.

    With ``whole_tree``, directories of ``out`` that belong to no rendered environment count as extra too.
    """
    if not out.is_dir():
        what = "is not a directory" if out.exists() else "does not exist"
        return [Problem(out.as_posix(), 1, 1, f"{what}; expected the committed manifests "
                                              f"(write them with `mlops render --out {out}`)")]
    problems: list[Problem] = []
    for env in rendered:
        rel, files = _selected(env, model)
        hint = f"run `mlops render --env {env.name}{f' --model {model}' if model else ''} --out {out}`"
        directory = out / rel
        if not directory.is_dir():
            problems.append(Problem(directory.as_posix(), 1, 1, f"missing: mlops render produces this directory; "
                                                                f"{hint}"))
            continue
        present = _on_disk(directory)
        for name in sorted(set(files) | present):
            shown = (directory / name).as_posix()
            if name not in present:
                problems.append(Problem(shown, 1, 1, f"missing: mlops render produces this file; {hint}"))
            elif name not in files:
                problems.append(Problem(shown, 1, 1, f"extra: mlops render does not produce this file; {hint}"))
            elif (directory / name).read_bytes() != files[name]:
                problems.append(Problem(shown, 1, 1, f"stale: differs from what mlops render produces; {hint}"))
    if whole_tree and out.is_dir():
        known = {env.name for env in rendered}
        for name in sorted(_on_disk(out)):
            if name.split("/", 1)[0] not in known:
                problems.append(Problem((out / name).as_posix(), 1, 1,
                                        "extra: belongs to no environment with manifests; delete it"))
    return problems


def summary(out: Path | None, rendered: Sequence[RenderedEnvironment], model: str | None = None) -> list[str]:
    """One line per environment: what was rendered, and where it went."""
    lines = []
    for env in rendered:
        rel, files = _selected(env, model)
        where = f" → {(out / rel).as_posix()}" if out is not None else ""
        if env.pins:
            pinned = ", ".join(f"{m}@{v}" for m, v in env.pins.items())
            lines.append(f"{env.name}: {len(env.pins)} model{'s' if len(env.pins) != 1 else ''} ({pinned}), "
                         f"{len(files)} files{where}")
        else:
            lines.append(f"{env.name}: no models pinned; rendered only the namespace and kustomization{where}")
    return lines

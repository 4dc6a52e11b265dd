"""What an environment pinned over time, read from git: the versions a model ran, and the commits that pinned them.

Rollback and explain both need "which version ran before, and which commit (and pull request) pinned the one
running now". The environment file's history answers it: each commit that changed the file is read at that
revision and its pin of the model compared with the one before.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import yaml

from mlops.adapters.scm import Commit, Scm
from mlops.core.repo import ENVIRONMENTS

ROLLBACK_MARK = "mlops-rollback"  # in a commit message or PR label: a pin change that is a rollback


@dataclass(frozen=True)
class PinChange:
    """One commit that changed ``model``'s pin in ``environment`` (``before`` → ``after``)."""

    environment: str
    model: str
    before: str | None
    after: str | None
    commit: Commit

    @property
    def is_rollback(self) -> bool:
        return ROLLBACK_MARK in self.commit.message


def pin_at(scm: Scm, rev: str, environment: str, model: str) -> str | None:
    """The version of ``model`` that ``environment`` pins at revision ``rev`` (None: none, or unreadable)."""
    return _pin_at(scm, rev, environment, model)


def _pin_at(scm: Scm, rev: str, environment: str, model: str) -> str | None:
    data = scm.read(rev, f"{ENVIRONMENTS}/{environment}.yaml")
    if data is None:
        return None
    try:  # only the pins of a file git holds: libyaml's safe loader (history reads many revisions)
        doc = yaml.load(data, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        pins = (doc.get("pins") if isinstance(doc, dict) else None) or {}
    except yaml.YAMLError:
        return None
    pin = pins.get(model) if isinstance(pins, dict) else None
    if isinstance(pin, dict):
        pin = pin.get("version")
    return str(pin) if isinstance(pin, str) else None


def iter_pin_changes(scm: Scm, environment: str, model: str, *, rev: str = "HEAD", limit: int = 200,
                     version: str | None = None) -> Iterator[PinChange]:
    """The commits that changed ``model``'s pin in ``environment``, newest first (first-parent history of the
    file, at most ``limit`` commits that touched it), read lazily: a caller that stops early reads no more.
    ``version``: only changes to or from that version (git finds the commits that add or remove its text).

    The file at a commit's parent is the file at the next older commit that touched it, so each commit's file
    is read once; only the oldest needs its parent read. With ``version`` the commits are not adjacent."""
    commits = scm.log([f"{ENVIRONMENTS}/{environment}.yaml"], rev=rev, max_count=limit, first_parent=True,
                      containing=version)
    if version is not None:
        for commit in commits:
            after = _pin_at(scm, commit.sha, environment, model)
            before = _pin_at(scm, commit.parents[0], environment, model) if commit.parents else None
            if before != after and version in (before, after):
                yield PinChange(environment, model, before, after, commit)
        return
    after = _pin_at(scm, commits[0].sha, environment, model) if commits else None
    for i, commit in enumerate(commits):
        if i + 1 < len(commits):  # no commit between them on the first-parent chain touched the file
            before = _pin_at(scm, commits[i + 1].sha, environment, model)
        else:
            before = _pin_at(scm, commit.parents[0], environment, model) if commit.parents else None
        if before != after:
            yield PinChange(environment, model, before, after, commit)
        after = before


def version_commits(scm: Scm, environments: Sequence[str], version: str, *, rev: str = "HEAD",
                    limit: int = 1000) -> list[Commit]:
    """The first-parent commits that add or remove ``version``'s text in any environment file (git's pickaxe:
    one walk, in git; it runs as its own process, so a caller may read other revisions meanwhile)."""
    paths = [f"{ENVIRONMENTS}/{env}.yaml" for env in environments]
    return scm.log(paths, rev=rev, max_count=limit, first_parent=True, containing=version)


def version_changes(scm: Scm, environments: Sequence[str], model: str, version: str, *, rev: str = "HEAD",
                    limit: int = 1000, commits: Sequence[Commit] | None = None) -> dict[str, list[PinChange]]:
    """Per environment, the commits that pinned ``model`` to or away from ``version``, newest first
    (``commits``: :func:`version_commits`' answer, when the caller already asked for it)."""
    found: dict[str, list[PinChange]] = {env: [] for env in environments}
    if commits is None:
        commits = version_commits(scm, environments, version, rev=rev, limit=limit)
    for commit in commits:
        for env in environments:
            after = _pin_at(scm, commit.sha, env, model)
            before = _pin_at(scm, commit.parents[0], env, model) if commit.parents else None
            if before != after and version in (before, after):
                found[env].append(PinChange(env, model, before, after, commit))
    return found


def pin_changes(scm: Scm, environment: str, model: str, *, rev: str = "HEAD", limit: int = 200) -> list[PinChange]:
    """The commits that changed ``model``'s pin in ``environment``, newest first (first-parent history)."""
    return list(iter_pin_changes(scm, environment, model, rev=rev, limit=limit))


def previous_version(scm: Scm, environment: str, model: str, current: str) -> tuple[str | None, PinChange | None]:
    """The good version before ``current``, and the change that pinned ``current`` (None when unknown).

    A version a rollback returned to was good before the change it undid: its predecessor is the version before
    the (non-rollback) change that first pinned it, never the version the rollback moved away from.
    """
    changes = pin_changes(scm, environment, model)
    latest = next((c for c in changes if c.after == current), None)
    original = next((c for c in changes if c.after == current and not c.is_rollback), None)
    return (original.before if original else None), latest


def changed_environments(scm: Scm, environments: dict[str, set[str]], since: str) -> list[str]:
    """Environments whose file changed since ``since``, or one of whose pinned models' directory did.

    ``environments`` maps each environment to the models it pins now. Order: as given (the promotion order).
    """
    paths = [c.path for c in scm.changed(since, scm.require("HEAD"))]
    changed = []
    for env, models in environments.items():
        if f"{ENVIRONMENTS}/{env}.yaml" in paths or any(p.startswith(f"models/{m}/") and "/versions/" not in p
                                                        for p in paths for m in models):
            changed.append(env)
    return changed

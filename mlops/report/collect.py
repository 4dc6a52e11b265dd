"""Gather what the report shows: verdicts, records, pins, and what changed against the base revision."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mlops.adapters.scm import Scm
from mlops.core.dvcmeta import DATA_POINTER, data_version_of
from mlops.core.errors import Problem, UsageError, UserError
from mlops.core.policy import Verdict
from mlops.core.repo import Repository
from mlops.core.spec.record import VersionRecord
from mlops.report.slicetable import SliceView, view


@dataclass(frozen=True)
class EnvRow:
    """One environment of a model's section: what is pinned there, the verdict, whether it gates the PR, and
    whether its policy lets promotions merge themselves (``auto_merge``, when confident at its margin)."""

    env: str
    baseline: VersionRecord | None
    verdict: Verdict | None
    required: bool
    auto_merge: bool = False


@dataclass(frozen=True)
class ModelReport:
    model: str
    candidate: str | None
    record: VersionRecord | None
    envs: list[EnvRow]
    changed: bool = False  # files of the model changed against the base
    slices: SliceView | None = None  # the spec's slices (rules, gated metrics), for the slice table

    @property
    def verdicts(self) -> list[Verdict]:
        return [row.verdict for row in self.envs if row.verdict is not None]


@dataclass(frozen=True)
class ReportData:
    models: list[ModelReport]
    head: str = ""
    base: str = ""
    data: tuple[str, str] | None = None  # data.dvc md5 at base → head, when it changed
    manifest: list[str] | None = None  # one summary line per environment
    manifest_unified: str = ""
    manifest_note: str = ""  # why the manifest section is missing
    notes: list[str] = field(default_factory=list)
    loosened: list[str] = field(default_factory=list)  # `path:line:col: loosens …`, each needing governance
    governance: str | None = None  # the team whose approval a loosening needs (None: none named)


def read_verdicts(directory: Path) -> dict[tuple[str, str], Verdict]:
    """Every verdict JSON file in ``directory`` by (model, environment); other JSON files are ignored."""
    if not directory.is_dir():
        raise UsageError(f"--verdicts {directory}: not a directory")
    found: dict[tuple[str, str], tuple[Verdict, str]] = {}
    for path in sorted(directory.glob("*.json")):
        try:
            data = json.loads(path.read_text("utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise UserError(Problem(str(path), 1, 1, f"cannot read the verdict: {exc}")) from None
        if not isinstance(data, dict) or data.get("kind") != "Verdict":
            continue
        try:
            verdict = Verdict.from_dict(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise UserError(Problem(str(path), 1, 1, f"malformed verdict ({type(exc).__name__}: {exc}); expected "
                                                     "a file written by `mlops evaluate --json-out`")) from None
        key = (verdict.model, verdict.environment)
        if key in found:
            raise UserError(Problem(str(path), 1, 1, f"a second verdict for {key[0]} in {key[1]} (the first is "
                                                     f"{found[key][1]}); expected one per model and environment"))
        found[key] = (verdict, path.name)
    return {k: v for k, (v, _) in found.items()}


def resolve_base(scm: Scm | None, base: str | None, env: Mapping[str, str], event_base: str | None) -> str | None:
    """``--base`` (which git must know), else the event's base commit, else ``origin/$GITHUB_BASE_REF`` — the
    first git knows."""
    if base:
        if scm is None:
            raise UsageError(f"--base {base}: the repository is not a git clone; expected one to compare with")
        scm.require(base)
        return base
    candidates = [event_base, f"origin/{env['GITHUB_BASE_REF']}" if env.get("GITHUB_BASE_REF") else None]
    return next((ref for ref in candidates if ref and scm is not None and scm.resolve(ref) is not None), None)


def changed_models(scm: Scm, base: str) -> set[str]:
    """Models whose files differ between the merge base with ``base`` and the working tree (untracked included)."""
    since = scm.merge_base(base) or base
    return {c.path.split("/")[1] for c in scm.changed(since, paths=["models"], untracked=True)
            if c.path.count("/") >= 2}


def data_change(scm: Scm, base: str) -> tuple[str, str] | None:
    """The data version (``data.dvc`` md5) at ``base`` → in the working tree, when it changed."""
    before = scm.read(base, DATA_POINTER) or b""
    head_file = scm.root / DATA_POINTER
    after = head_file.read_text("utf-8") if head_file.is_file() else ""
    old, new = data_version_of(before.decode("utf-8", "replace")), data_version_of(after)
    return (old, new) if old != new else None


def manifest_summary(root: Path, base: str) -> tuple[list[str] | None, str, str]:
    """(summary lines, unified diff, note) from ``mlops diff``'s structured result, when it is available."""
    try:
        from mlops.gitops.diff import manifest_diff
    except ImportError:
        return None, "", "the manifest diff is not available in this installation (mlops.gitops.diff)"
    try:
        diff = manifest_diff(root, base)
    except (UserError, UsageError) as exc:
        return None, "", f"the manifest diff could not be computed: {str(exc).splitlines()[0]}"
    return [env.summary() for env in diff.envs], "\n".join(e.unified for e in diff.envs if not e.empty), ""


def required(repo: Repository, model: str, env: str, candidate: str | None) -> bool:
    """Do ``env``'s gates decide the PR? The first environment (merging deploys there) and any that pins it."""
    order = repo.promotion_order() or sorted(repo.environments)
    pin = repo.environment(env).pin(model)
    return bool(order and env == order[0]) or (candidate is not None and pin is not None and pin.version == candidate)


def model_report(repo: Repository, model: str, verdicts: Mapping[tuple[str, str], Verdict],
                 changed: bool) -> ModelReport:
    order = repo.promotion_order() or sorted(repo.environments)
    mine = [verdicts[(model, e)] for e in order if (model, e) in verdicts]
    mine += [v for (m, e), v in sorted(verdicts.items()) if m == model and e not in order]
    candidate = mine[0].candidate.version if mine else None
    records = {v: loaded.spec for v, loaded in repo.records.get(model, {}).items()}
    rows = []
    for env in [*order, *[v.environment for v in mine if v.environment not in order]]:
        spec = repo.environments[env].spec if env in repo.environments else None
        pin = spec.pin(model) if spec is not None else None
        rows.append(EnvRow(env, records.get(pin.version) if pin else None, verdicts.get((model, env)),
                           spec is not None and required(repo, model, env, candidate),
                           spec is not None and spec.policy.auto_merge))
    return ModelReport(model, candidate, records.get(candidate) if candidate else None, rows, changed,
                       view(repo.model(model)) if model in repo.models else None)


def collect(repo: Repository, verdicts: Mapping[tuple[str, str], Verdict], base: str | None,
            head: str = "", scm: Scm | None = None) -> ReportData:
    """What the report shows; ``scm`` (the repository's git, when it has one) gives the diffs against ``base``."""
    base = base if scm is not None else None
    changed = changed_models(scm, base) if scm is not None and base else set()
    names = sorted({m for m, _ in verdicts} | (changed & set(repo.models)))
    models = [model_report(repo, m, verdicts, m in changed) for m in names]
    notes = [f"verdict for unknown model {m!r} ignored" for m in sorted({m for m, _ in verdicts} - set(repo.models))]
    models = [m for m in models if m.model in repo.models]
    if base is None:
        return ReportData(models, head, "", None, None, "", "no base revision to compare with (pass --base)", notes)
    assert scm is not None
    from mlops.core.owners import load_governance
    from mlops.gitops.guard import loosened_since

    lines, unified, note = manifest_summary(repo.root, base)
    loosened = [str(p) for p in loosened_since(repo.root, base)]
    team = load_governance(repo.root)[0]
    return ReportData(models, head, base, data_change(scm, base), lines, unified, note, notes, loosened,
                      team.team if team else None)

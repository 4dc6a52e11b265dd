"""The repository as the source of truth: load every spec, environment and version record at once."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

from mlops.core import yamlpos
from mlops.core.errors import Problem, UsageError, UserError, expected_one_of, no_environment_named, no_model_named
from mlops.core.spec.environment import Environment
from mlops.core.spec.load import validate
from mlops.core.spec.model import ModelSpec
from mlops.core.spec.record import VersionRecord, record_digest
from mlops.core.yamlpos import Document

T = TypeVar("T")
MODELS = "models"
ENVIRONMENTS = "environments"
ROOT_ENVIRONMENT = "dev"  # the promotion chain starts here


@dataclass
class Loaded(Generic[T]):
    doc: Document
    spec: T


@dataclass
class Repository:
    """Everything under ``root`` that parsed and validated, plus the problems of what did not."""

    root: Path
    models: dict[str, Loaded[ModelSpec]] = field(default_factory=dict)
    environments: dict[str, Loaded[Environment]] = field(default_factory=dict)
    records: dict[str, dict[str, Loaded[VersionRecord]]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    model_dirs: list[str] = field(default_factory=list)
    environment_files: list[str] = field(default_factory=list)  # every environments/*.yaml stem, valid or not

    def rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def model(self, name: str) -> ModelSpec:
        return self.models[name].spec

    def environment(self, name: str) -> Environment:
        return self.environments[name].spec

    def promotion_order(self) -> list[str]:
        """Environments from the root (dev) along ``promoted_from``; assumes the chain was validated.

        Where the chain branches (invalid), the alphabetically first successor is followed.
        """
        order: list[str] = []
        nxt: dict[str, str] = {}
        for name, env in sorted(self.environments.items()):
            if env.spec.promoted_from is not None:
                nxt.setdefault(env.spec.promoted_from, name)
        root = self.environments.get(ROOT_ENVIRONMENT)
        current = ROOT_ENVIRONMENT if root is not None and root.spec.promoted_from is None else None
        while current is not None and current not in order:
            order.append(current)
            current = nxt.get(current)
        return order

    def require_valid(self) -> None:
        if self.problems:
            raise UserError(self.problems)

    # -- lookups: one wording and one exit code (1) for every verb ------------------------------------------

    def require_model(self, name: str) -> Loaded[ModelSpec]:
        """The loaded spec of model ``name``; its own problems when it did not load; else "no model named"."""
        if name in self.models:
            return self.models[name]
        own = [p for p in self.problems if p.path.startswith(f"{MODELS}/{name}/")]
        raise UserError(own or Problem(MODELS, 1, 1, no_model_named(name, self.model_dirs)))

    def require_environment(self, name: str) -> Loaded[Environment]:
        if name in self.environments:
            return self.environments[name]
        own = [p for p in self.problems if p.path == f"{ENVIRONMENTS}/{name}.yaml"]
        raise UserError(own or Problem(ENVIRONMENTS, 1, 1, no_environment_named(name, self.environment_files)))

    def require_record(self, ref: str | tuple[str, str]) -> Loaded[VersionRecord]:
        """The record of ``MODEL@VERSION`` (or a (model, version) pair), checked as it loaded."""
        model, version = parse_ref(ref) if isinstance(ref, str) else ref
        self.require_model(model)
        found = self.records.get(model, {}).get(version)
        own = [p for p in self.problems if p.path == record_path(model, version)]
        if own:
            raise UserError(own)
        if found is None:
            known = expected_one_of(self.records.get(model, {}), limit=5,
                                    empty=f"{model} has no version records yet (train one: `mlops train {model}`)")
            raise UserError(Problem(f"{MODELS}/{model}/versions", 1, 1,
                                    f"no version {version!r} of model {model!r}; {known}"))
        return found

    def newest_record(self, model: str) -> VersionRecord | None:
        """The most recently created record of ``model`` (ties broken by version id)."""
        return max((r.spec for r in self.records.get(model, {}).values()), key=lambda r: (r.created, r.version),
                   default=None)


def parse_ref(ref: str) -> tuple[str, str]:
    """``MODEL@VERSION`` → (model, version); anything else is a usage error (exit 2)."""
    model, sep, version = ref.partition("@")
    if not sep or not model or not version or "@" in version:
        raise UsageError(f"{ref!r} is not MODEL@VERSION (e.g. digits-cnn@20250101-1a2b3c4d)")
    return model, version


def record_path(model: str, version: str) -> str:
    """Where the version record of ``model@version`` lives, relative to the repository root."""
    return f"{MODELS}/{model}/versions/{version}.yaml"


def _load(repo: Repository, path: Path, cls: type[T]) -> Loaded[T] | None:
    try:
        doc = yamlpos.load(path, repo.rel(path))
        return Loaded(doc, validate(doc, cls))  # type: ignore[type-var]
    except UserError as exc:
        repo.problems.extend(exc.problems)
        return None


def record_problems(model: str, stem: str, loaded: Loaded[VersionRecord]) -> list[Problem]:
    """What makes a parsed record untrustworthy: filed under another model or name, or edited after
    ``mlops train`` wrote it. Checked on load, so no verb trains, serves or reproduces from such a record."""
    rec, doc = loaded.spec, loaded.doc
    problems: list[Problem] = []
    if rec.model != model:
        problems.append(doc.problem(("model",), f"record of model {rec.model!r} is filed under models/{model}/; "
                                                f"expected model {model!r}"))
    if rec.version != stem:
        problems.append(doc.problem(("version",), f"version {rec.version!r} does not match the file name "
                                                  f"{stem}.yaml; expected {stem!r}"))
    try:
        digest: str | None = record_digest(doc.data)
    except (TypeError, ValueError):
        problems.append(doc.problem(("record_digest",), "version record holds values that are not plain JSON (a "
                                                        "date, a non-string key?); expected the file as `mlops "
                                                        "train` wrote it"))
        digest = None
    if digest is not None and digest != rec.record_digest:
        problems.append(doc.problem(("record_digest",), "version record was edited after it was written; records "
                                                        "are immutable (train a new version instead)"))
    return problems


def load_records(repo: Repository, model: str, versions: set[str]) -> None:
    """Load the records ``versions`` of ``model`` that are not loaded yet (those that exist; problems collected)."""
    records = repo.records.setdefault(model, {})
    for version in sorted(versions - set(records)):
        record_file = repo.root / record_path(model, version)
        if record_file.is_file():
            rec = _load(repo, record_file, VersionRecord)
            if rec is not None:
                records[version] = rec
                repo.problems.extend(record_problems(model, version, rec))


def load_repository(root: Path, *, only_models: set[str] | None = None, records: bool = True) -> Repository:
    """Parse and validate every file. Problems are collected, never raised, so all are reported at once.
    ``records=False``: no version record is loaded (load the ones needed with :func:`load_records`)."""
    repo = Repository(root=root.resolve())
    models_dir = repo.root / MODELS
    for spec_file in sorted(models_dir.glob("*/model.yaml")):
        name = spec_file.parent.name
        repo.model_dirs.append(name)
        if only_models is not None and name not in only_models:
            continue
        loaded = _load(repo, spec_file, ModelSpec)
        if loaded is not None:
            repo.models[name] = loaded
        found: dict[str, Loaded[VersionRecord]] = {}
        for record_file in sorted((spec_file.parent / "versions").glob("*.yaml")) if records else []:
            rec = _load(repo, record_file, VersionRecord)
            if rec is not None:
                found[record_file.stem] = rec
                repo.problems.extend(record_problems(name, record_file.stem, rec))
        repo.records[name] = found
    for env_file in sorted((repo.root / ENVIRONMENTS).glob("*.yaml")):
        repo.environment_files.append(env_file.stem)
        env = _load(repo, env_file, Environment)
        if env is not None:
            repo.environments[env_file.stem] = env
    if not repo.model_dirs and only_models is None:
        repo.problems.append(Problem(MODELS, 1, 1, "no models found; expected models/<name>/model.yaml "
                                     "(create one with `mlops new model NAME`)"))
    if not (repo.root / ENVIRONMENTS).is_dir():
        repo.problems.append(Problem(ENVIRONMENTS, 1, 1, "no environments directory; expected environments/dev.yaml"))
    return repo

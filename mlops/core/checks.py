"""Cross-file checks: what no single file's schema can see."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from mlops.core import dvcmeta
from mlops.core.errors import Problem, UserError
from mlops.core.repo import Loaded, Repository
from mlops.core.spec.model import CLASSIFICATION_METRICS, REGRESSION_METRICS, Gate, ModelSpec
from mlops.core.spec.record import record_digest
from mlops.core.yamlpos import Document

ROOT_ENVIRONMENT = "dev"
CONTRACT = ("build",)


def check_model(repo: Repository, name: str, loaded: Loaded[ModelSpec]) -> Iterator[Problem]:
    spec, doc = loaded.spec, loaded.doc
    if spec.name != name:
        yield doc.problem(("name",), f"name {spec.name!r} does not match its directory models/{name}/")
    if spec.data.label in spec.data.features:
        yield doc.problem(("data", "label"), f"label column {spec.data.label!r} is also listed in data.features")
    allowed = CLASSIFICATION_METRICS if spec.task == "classification" else REGRESSION_METRICS
    for i, metric in enumerate(spec.evaluation.metrics):
        if metric not in allowed:
            yield doc.problem(("evaluation", "metrics", i),
                              f"metric {metric!r} does not apply to {spec.task}; expected one of {sorted(allowed)}")
    yield from _gates(doc, ("evaluation", "gates"), spec.evaluation.gates, spec)
    if spec.serving.input.size != len(spec.data.features):
        yield doc.problem(("serving", "input", "shape"),
                          f"serving.input.shape {spec.serving.input.shape} holds {spec.serving.input.size} values "
                          f"but data.features lists {len(spec.data.features)} columns")
    for i, feature in enumerate(spec.monitoring.features):
        if feature not in spec.data.features:
            yield doc.problem(("monitoring", "features", i), f"monitored feature {feature!r} is not in data.features")
    perf = spec.monitoring.performance
    if perf is not None and perf.metric not in spec.evaluation.metrics:
        yield doc.problem(("monitoring", "performance", "metric"),
                          f"performance metric {perf.metric!r} is not in evaluation.metrics {spec.evaluation.metrics}")
    if spec.training.gpus > 1 and spec.training.device == "cpu":
        yield doc.problem(("training", "gpus"), "training.gpus > 1 needs device 'auto' or 'cuda'")
    yield from _user_code(repo, name, loaded)


def _gates(doc: Document, base: tuple[str, ...], gates: list[Gate], spec: ModelSpec) -> Iterator[Problem]:
    names: set[str] = set()
    for i, gate in enumerate(gates):
        if gate.name in names:
            yield doc.problem((*base, i, "name"), f"gate name {gate.name!r} is used twice")
        names.add(gate.name)
        if gate.metric not in spec.evaluation.metrics:
            yield doc.problem((*base, i, "metric"),
                              f"gate {gate.name!r} names metric {gate.metric!r}, which model {spec.name!r} does not "
                              f"produce; expected one of {spec.evaluation.metrics}")


def _user_code(repo: Repository, name: str, loaded: Loaded[ModelSpec]) -> Iterator[Problem]:
    """The user's ``model.py`` must define the contract; read with ``ast``, never imported here."""
    code = repo.root / "models" / name / loaded.spec.code
    rel = repo.rel(code) if code.is_relative_to(repo.root) else str(code)
    if not code.is_file():
        yield loaded.doc.problem(("code",), f"user code {rel} does not exist; expected a file defining build()")
        return
    try:
        tree = ast.parse(code.read_text("utf-8"), filename=rel)
    except SyntaxError as exc:
        yield Problem(rel, exc.lineno or 1, exc.offset or 1, f"Python syntax error: {exc.msg}")
        return
    except UnicodeDecodeError:
        yield Problem(rel, 1, 1, "not valid UTF-8; expected Python source")
        return
    defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    for fn in CONTRACT:
        if fn not in defined:
            yield Problem(rel, 1, 1, f"missing function {fn}(params, n_features, n_outputs); "
                                     "expected the model contract (see `mlops new model`)")


def check_environments(repo: Repository) -> Iterator[Problem]:
    envs = repo.environments
    successors: dict[str, str] = {}
    flagged: set[str] = set()
    for name, loaded in envs.items():
        spec, doc = loaded.spec, loaded.doc
        if spec.name != name:
            yield doc.problem(("name",), f"name {spec.name!r} does not match the file name {name}.yaml")
        src = spec.promoted_from
        if src is None:
            if name != ROOT_ENVIRONMENT:
                yield doc.problem(("name",), f"environment {name!r} sets no promoted_from; only "
                                             f"{ROOT_ENVIRONMENT!r} starts the promotion chain")
        elif src not in envs:
            flagged.add(name)
            yield doc.problem(("promoted_from",), f"promoted_from {src!r} is not an environment; "
                                                  f"expected one of {sorted(envs)}")
        elif src in successors:
            flagged.add(name)
            yield doc.problem(("promoted_from",), f"{successors[src]!r} is already promoted from {src!r}; "
                                                  "the promotion order must be a chain")
        else:
            successors[src] = name
        yield from _pins(repo, name)
    if envs and ROOT_ENVIRONMENT not in envs:
        yield Problem("environments", 1, 1, f"no environments/{ROOT_ENVIRONMENT}.yaml; the promotion chain starts there")
    reachable = set(repo.promotion_order())
    for name in sorted(set(envs) - reachable - flagged):
        loaded = envs[name]
        if loaded.spec.promoted_from is not None:
            yield loaded.doc.problem(("promoted_from",), f"environment {name!r} is in a promotion cycle or not "
                                                         f"reachable from {ROOT_ENVIRONMENT!r}")


def _pins(repo: Repository, env: str) -> Iterator[Problem]:
    loaded = repo.environments[env]
    spec, doc = loaded.spec, loaded.doc
    for model in spec.pins:
        if model not in repo.model_dirs:
            yield doc.problem(("pins", model), f"pin names model {model!r}, which does not exist; expected one "
                                               f"of {sorted(repo.model_dirs)}", key=True)
            continue
        pin = spec.pin(model)
        records = repo.records.get(model, {})
        if pin is not None and records and pin.version not in records:
            yield doc.problem(("pins", model), f"pin {model}@{pin.version} has no version record; expected one "
                                               f"of {sorted(records)[-5:]}")
        if model in repo.models:
            yield from _gates(doc, ("policy", "gates"), spec.policy.gates, repo.model(model))
    for model in spec.overrides:
        if model not in repo.model_dirs:
            yield doc.problem(("overrides", model), f"override names model {model!r}, which does not exist",
                              key=True)


def check_records(repo: Repository) -> Iterator[Problem]:
    for model, records in repo.records.items():
        for stem, loaded in records.items():
            rec, doc = loaded.spec, loaded.doc
            if rec.model != model:
                yield doc.problem(("model",), f"record of model {rec.model!r} is filed under models/{model}/")
            if rec.version != stem:
                yield doc.problem(("version",), f"version {rec.version!r} does not match the file name {stem}.yaml")
            if record_digest(doc.data) != rec.record_digest:
                yield doc.problem(("record_digest",), "version record was edited after it was written; records "
                                                      "are immutable (train a new version instead)")


def check_data(repo: Repository) -> Iterator[Problem]:
    if not repo.models:
        return
    if not (repo.root / "data.dvc").is_file():
        yield Problem("data.dvc", 1, 1, "missing; expected the DVC pointer for data/ (run scripts/materialize-data)")
        return
    try:
        tree = dvcmeta.tracked_tree(repo.root)
    except UserError as exc:
        yield from exc.problems
        return
    for loaded in repo.models.values():
        path = loaded.spec.data.path
        if not dvcmeta.contains(tree, path):
            yield loaded.doc.problem(("data", "path"), f"data path {path!r} is not in the DVC-tracked tree "
                                                       f"({tree.dvc_file}: {len(tree.files)} files under {tree.out}/)")


def check_repository(repo: Repository) -> list[Problem]:
    """Every cross-file problem, in file order."""
    problems: list[Problem] = []
    for name, loaded in repo.models.items():
        problems.extend(check_model(repo, name, loaded))
    problems.extend(check_environments(repo))
    problems.extend(check_records(repo))
    problems.extend(check_data(repo))
    return problems

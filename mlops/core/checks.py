"""Cross-file checks: what no single file's schema can see."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from mlops.core import contract, dvcmeta
from mlops.core.errors import Problem, UserError
from mlops.core.repo import ENVIRONMENTS, ROOT_ENVIRONMENT, Loaded, Repository
from mlops.core.slicecheck import check_slices
from mlops.core.spec.model import CLASSIFICATION_METRICS, REGRESSION_METRICS, Gate, ModelSpec
from mlops.core.yamlpos import Document

CONTRACT = ("build",)


def check_model(repo: Repository, name: str, loaded: Loaded[ModelSpec]) -> Iterator[Problem]:
    spec, doc = loaded.spec, loaded.doc
    if spec.name != name:
        yield doc.problem(("name",), f"name {spec.name!r} does not match its directory models/{name}/; "
                                     f"expected {name!r}")
    if spec.data.label in spec.data.features:
        yield doc.problem(("data", "label"), f"label column {spec.data.label!r} is also listed in "
                                             "data.features; expected the label apart from the features")
    allowed = CLASSIFICATION_METRICS if spec.task == "classification" else REGRESSION_METRICS
    for i, metric in enumerate(spec.evaluation.metrics):
        if metric not in allowed:
            yield doc.problem(("evaluation", "metrics", i),
                              f"metric {metric!r} does not apply to {spec.task}; expected one of {sorted(allowed)}")
    yield from _gates(doc, ("evaluation", "gates"), spec.evaluation.gates, spec)
    yield from check_slices(doc, spec)
    if spec.serving.input.size != len(spec.data.features):
        yield doc.problem(("serving", "input", "shape"),
                          f"serving.input.shape {spec.serving.input.shape} holds {spec.serving.input.size} values "
                          f"but data.features lists {len(spec.data.features)} columns; expected shape whose "
                          f"product is {len(spec.data.features)}, e.g. [{len(spec.data.features)}]")
    for i, feature in enumerate(spec.monitoring.features):
        if feature not in spec.data.features:
            yield doc.problem(("monitoring", "features", i), f"monitored feature {feature!r} is not in "
                                                                   "data.features; expected one of its columns")
    perf = spec.monitoring.performance
    if perf is not None and perf.metric not in spec.evaluation.metrics:
        yield doc.problem(("monitoring", "performance", "metric"),
                          f"performance metric {perf.metric!r} is not computed; expected one of evaluation.metrics "
                          f"{spec.evaluation.metrics}")
    if spec.training.gpus > 1 and spec.training.device == "cpu":
        yield doc.problem(("training", "gpus"), "training.gpus > 1 with device 'cpu'; expected device "
                                                   "'auto' or 'cuda'")
    yield from _user_code(repo, name, loaded)


def _gates(doc: Document, base: tuple[str, ...], gates: list[Gate], spec: ModelSpec) -> Iterator[Problem]:
    names: set[str] = set()
    for i, gate in enumerate(gates):
        if gate.name in names:
            yield doc.problem((*base, i, "name"), f"gate name {gate.name!r} is used twice; expected "
                                                                 "unique gate names")
        names.add(gate.name)
        if gate.metric not in spec.evaluation.metrics:
            yield doc.problem((*base, i, "metric"),
                              f"gate {gate.name!r} names metric {gate.metric!r}, which model {spec.name!r} does not "
                              f"produce; expected one of {spec.evaluation.metrics}")


def _user_code(repo: Repository, name: str, loaded: Loaded[ModelSpec]) -> Iterator[Problem]:
    """The user's ``model.py`` must define the contract; read with ``ast``, never imported here."""
    model_dir = repo.root / "models" / name
    code = model_dir / loaded.spec.code
    rel = f"models/{name}/{loaded.spec.code}"
    if not code.resolve().is_relative_to(model_dir.resolve()):
        yield loaded.doc.problem(("code",), f"user code {rel} leads outside models/{name}/ (a symlink?); expected "
                                            "a file inside the model directory")
        return
    if not code.is_file():
        yield loaded.doc.problem(("code",), f"user code {rel} does not exist; expected a file defining build()")
        return
    try:
        tree = ast.parse(code.read_bytes(), filename=rel)
    except SyntaxError as exc:
        yield Problem(rel, exc.lineno or 1, exc.offset or 1, f"Python syntax error: {exc.msg}")
        return
    except (ValueError, UnicodeDecodeError):  # NUL bytes or bad encoding, on Python versions that say so
        yield Problem(rel, 1, 1, "not valid Python source text; expected UTF-8 Python source")
        return
    except (RecursionError, MemoryError):
        yield Problem(rel, 1, 1, "nested too deeply to parse; expected plain Python source")
        return
    yield from _contract(rel, tree, loaded)


def _contract(rel: str, tree: ast.Module, loaded: Loaded[ModelSpec]) -> Iterator[Problem]:
    """Top-level names the module binds, ``build``'s arity when it is a plain function, and what it reads."""
    bound: dict[str, ast.AST] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound[node.name] = node
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                if isinstance(target, ast.Name):
                    bound[target.id] = node
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                bound[(alias.asname or alias.name).split(".")[0]] = node
    for fn in CONTRACT:
        found = bound.get(fn)
        if found is None:
            yield Problem(rel, 1, 1, f"missing function {fn}(params, n_features, n_outputs); "
                                     "expected the model contract (see `mlops new model`)")
        elif isinstance(found, ast.FunctionDef) and not _takes_three(found.args):
            yield Problem(rel, found.lineno, found.col_offset + 1,
                          f"{fn}() must accept (params, n_features, n_outputs); expected three positional parameters")
        elif isinstance(found, ast.FunctionDef) and fn == "build":
            yield from contract.problems(rel, tree, found, loaded.doc, loaded.spec.params)
        elif isinstance(found, ast.AsyncFunctionDef):
            yield Problem(rel, found.lineno, found.col_offset + 1,
                          f"{fn}() is async; expected a plain function {fn}(params, n_features, n_outputs)")


def _takes_three(args: ast.arguments) -> bool:
    positional = [*args.posonlyargs, *args.args]
    required = len(positional) - len(args.defaults)
    required_kw = [a for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is None]
    return required <= 3 and (len(positional) >= 3 or args.vararg is not None) and not required_kw


def check_environments(repo: Repository) -> Iterator[Problem]:
    envs = repo.environments
    files = set(repo.environment_files) | set(envs)
    children: dict[str, list[str]] = {}
    for name, loaded in envs.items():
        spec, doc = loaded.spec, loaded.doc
        if spec.name != name:
            yield doc.problem(("name",), f"name {spec.name!r} does not match the file name {name}.yaml; "
                                         f"expected {name!r}")
        src = spec.promoted_from
        if src is None:
            if name != ROOT_ENVIRONMENT:
                yield doc.problem(("name",), f"environment {name!r} sets no promoted_from; only "
                                             f"{ROOT_ENVIRONMENT!r} starts the promotion chain")
        elif name == ROOT_ENVIRONMENT:
            yield doc.problem(("promoted_from",), f"{ROOT_ENVIRONMENT!r} starts the promotion chain; expected no "
                                                  "promoted_from here")
        elif src == name:
            yield doc.problem(("promoted_from",), f"environment {name!r} is promoted from itself; expected the "
                                                  "environment before it in the chain")
        elif src not in files:
            yield doc.problem(("promoted_from",), f"promoted_from {src!r} is not an environment; "
                                                  f"expected one of {sorted(files - {name})}")
        else:
            children.setdefault(src, []).append(name)
        yield from _pins(repo, name)
    if files and ROOT_ENVIRONMENT not in files:
        yield Problem(ENVIRONMENTS, 1, 1, f"no environments/{ROOT_ENVIRONMENT}.yaml; expected the promotion chain "
                                          "to start there")
    for src, names in children.items():
        if len(names) > 1:
            for name in names:
                others = ", ".join(repr(n) for n in names if n != name)
                yield envs[name].doc.problem(("promoted_from",), f"{others} is also promoted from {src!r}; the "
                                                                 "promotion order must be a chain (one successor each)")
    yield from _cycles(repo)


def _cycles(repo: Repository) -> Iterator[Problem]:
    """Each environment on a ``promoted_from`` loop, named with the loop."""
    envs = repo.environments
    for name, loaded in envs.items():
        path = [name]
        current = loaded.spec.promoted_from
        while current is not None and current in envs and current not in path and current != ROOT_ENVIRONMENT:
            path.append(current)
            current = envs[current].spec.promoted_from
        if current == name and len(path) > 1 and name != ROOT_ENVIRONMENT:
            loop = " → ".join([*reversed(path), path[-1]])
            yield loaded.doc.problem(("promoted_from",), f"promotion cycle {loop}; expected a chain starting at "
                                                         f"{ROOT_ENVIRONMENT!r}")


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
            yield doc.problem(("overrides", model), f"override names model {model!r}, which does not exist; "
                                                    f"expected one of {sorted(repo.model_dirs)}",
                              key=True)


def check_data(repo: Repository) -> Iterator[Problem]:
    if not repo.models:
        return
    if not (repo.root / "data.dvc").is_file():
        yield Problem("data.dvc", 1, 1, "missing; expected the DVC pointer for data/ "
                                         "(run scripts/materialize_data.py)")
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
                                                       f"({tree.dvc_file}: {len(tree.files)} files under {tree.out}/); "
                                                       "expected a tracked file (add it, then `dvc add data`)")


def check_repository(repo: Repository) -> list[Problem]:
    """Every cross-file problem, in file order."""
    problems: list[Problem] = []
    for name, loaded in repo.models.items():
        problems.extend(check_model(repo, name, loaded))
    problems.extend(check_environments(repo))
    problems.extend(check_data(repo))
    return problems

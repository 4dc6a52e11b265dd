"""``mlops new model NAME``: a model directory that validates as is — the first step of proposing a model.

The directory is rendered from the jinja2 templates in ``templates/model/``, built in a temporary
directory beside ``models/`` and renamed into place in one step, so a failure writes nothing. Its
features come from the header of a CSV in the DVC-tracked ``data/`` tree (the working copy, else DVC's
cache or default remote), read without hashing or pulling anything.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from mlops.core import dvcmeta, yamlpos
from mlops.core.checks import check_model
from mlops.core.errors import Problem, UserError
from mlops.core.repo import MODELS, Loaded, Repository, load_repository
from mlops.core.spec.load import validate
from mlops.core.spec.model import ModelSpec
from mlops.core.spec.types import DnsLabel, Owner

DEFAULT_DATA = "data/breast-cancer/breast_cancer.csv"
DEFAULT_LABEL = "malignant"
TEMPLATES = Path(__file__).parent / "templates" / "model"
SAMPLE_ROWS = 200
HEAD_BYTES = 1 << 20
_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_./-]*$")
_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}
METRICS = {"classification": ["accuracy", "macro_f1", "log_loss"], "regression": ["rmse", "mae", "r2"]}


@dataclass
class NewModel:
    """What to scaffold. ``data``/``label`` default to the breast-cancer CSV of the example repository."""

    name: str
    task: str = "classification"
    data: str | None = None
    label: str | None = None
    owners: list[str] = field(default_factory=list)
    description: str | None = None


def yaml_str(value: str) -> str:
    """``value`` as a YAML scalar that reads back as the same string: bare when safe, else double-quoted."""
    if _PLAIN.match(value) and value.lower() not in _YAML_WORDS and not _looks_numeric(value):
        return value
    return json.dumps(value, ensure_ascii=False)


def _looks_numeric(value: str) -> bool:
    try:
        float(value.replace("_", ""))
    except ValueError:
        return False
    return True


def _py_doc(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')


def check_name(name: str) -> None:
    try:
        TypeAdapter(DnsLabel).validate_python(name)
    except ValidationError as exc:
        msg = exc.errors()[0]["msg"].removeprefix("Value error, ")
        raise UserError(Problem(MODELS, 1, 1, f"model name {msg}")) from None


def check_owners(owners: list[str]) -> None:
    adapter: TypeAdapter[str] = TypeAdapter(Owner)
    for owner in owners:
        try:
            adapter.validate_python(owner)
        except ValidationError as exc:
            msg = exc.errors()[0]["msg"].removeprefix("Value error, ")
            raise UserError(Problem(MODELS, 1, 1, f"--owner {msg}")) from None


def default_owners(root: Path) -> list[str]:
    """Who owns a new model unless ``--owner`` says: the CI actor or user, else dev's approvers."""
    adapter: TypeAdapter[str] = TypeAdapter(Owner)
    for var in ("GITHUB_ACTOR", "USER"):
        value = os.environ.get(var, "")
        try:
            if value:
                return [adapter.validate_python(value)]
        except ValidationError:
            continue
    repo = load_repository(root)
    dev = repo.environments.get("dev")
    if dev is not None and dev.spec.approvers:
        return list(dev.spec.approvers)
    raise UserError(Problem(MODELS, 1, 1, "cannot tell who owns the new model; expected --owner GITHUB_USER"))


def read_columns(root: Path, data: str) -> tuple[list[str], list[list[str]]]:
    """Header and the first rows of the tracked CSV ``data`` (a path like ``data/x/y.csv``)."""
    tree = dvcmeta.tracked_tree(root)
    if data not in tree.files:
        csvs = sorted(f for f in tree.files if f.endswith(".csv"))
        raise UserError(Problem(data, 1, 1, f"--data: not a file in the DVC-tracked tree ({tree.dvc_file}); "
                                f"expected one of {csvs}"))
    source = dvcmeta.locate(root, tree, data)
    if source is None:
        raise UserError(Problem(data, 1, 1, "--data: tracked but neither in data/ nor in DVC's cache or default "
                                "remote; expected `dvc pull` to have run"))
    with source.open("rb") as fh:
        head = fh.read(HEAD_BYTES + 1)
    if len(head) > HEAD_BYTES:  # a big file: whole lines of its first MiB are plenty
        head = head[: head.rfind(b"\n", 0, HEAD_BYTES) + 1]
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = head[: exc.start].count(b"\n") + 1
        raise UserError(Problem(data, line, 1, "not valid UTF-8; expected a UTF-8 CSV file")) from None
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or not rows[0]:
        raise UserError(Problem(data, 1, 1, "no CSV header; expected a header row naming the columns"))
    header = [c.strip() for c in rows[0]]
    seen: set[str] = set()
    for i, col in enumerate(header):
        if not col:
            raise UserError(Problem(data, 1, 1, f"column {i + 1} of the header has no name; expected named columns"))
        if col in seen:
            raise UserError(Problem(data, 1, 1, f"column {col!r} appears twice in the header; expected unique names"))
        seen.add(col)
    return header, rows[1: SAMPLE_ROWS + 1]


def infer_features(data: str, header: list[str], rows: list[list[str]], label: str) -> dict[str, str]:
    """Every column but the label, in file order, as a numeric dtype (the sampled values must be numbers)."""
    features: dict[str, str] = {}
    for i, col in enumerate(header):
        if col == label:
            continue
        values = [row[i].strip() for row in rows if i < len(row)]
        for line, value in enumerate(values, start=2):
            try:
                float(value)
            except ValueError:
                raise UserError(Problem(data, line, 1, f"column {col!r} holds {value!r}; expected numeric feature "
                                        "columns (drop or encode it, or pick another --data)")) from None
        features[col] = "int64" if values and all(re.fullmatch(r"[-+]?\d+", v) for v in values) else "float64"
    if not features:
        raise UserError(Problem(data, 1, 1, f"no feature columns besides the label {label!r}; expected at least one"))
    return features


def render(new: NewModel, features: dict[str, str], data: str, label: str) -> dict[str, str]:
    """File name → content of the new model directory."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True, autoescape=False)
    env.filters["yaml_str"] = yaml_str
    env.filters["py_doc"] = _py_doc
    description = new.description or f"Small MLP for {new.task} of {label!r} from {len(features)} features of {data}."
    context = {"name": new.name, "task": new.task, "description": description, "owners": new.owners,
               "data_path": data, "label": label, "features": features, "metrics": METRICS[new.task]}
    files = {name.removesuffix(".j2"): env.get_template(name).render(context)
             for name in ("model.yaml.j2", "model.py.j2", "README.md.j2")}
    files["versions/.gitkeep"] = ""
    return files


def _self_check(work: Path, new: NewModel, files: dict[str, str]) -> None:
    """The scaffold must validate as is: parse and check it (user code from ``work``) before it moves into place."""
    doc = yamlpos.parse(files["model.yaml"], f"{MODELS}/{new.name}/model.yaml")
    spec = validate(doc, ModelSpec)
    problems = list(check_model(Repository(root=work), new.name, Loaded(doc, spec)))
    if problems:  # a template bug, not the user's: say so plainly
        raise UserError([Problem(p.path, p.line, p.col, f"scaffold does not validate: {p.message}") for p in problems])


def scaffold(root: Path, new: NewModel) -> Path:
    """Create ``models/<name>/`` under ``root`` and return it; raise :class:`UserError` and write nothing on error."""
    check_name(new.name)
    target = root / MODELS / new.name
    if target.exists() or target.is_symlink():
        raise UserError(Problem(f"{MODELS}/{new.name}", 1, 1, "already exists; expected a new model name "
                                "(edit the existing model instead)"))
    data = (new.data or DEFAULT_DATA).removeprefix("./")
    header, rows = read_columns(root, data)
    label = new.label or (DEFAULT_LABEL if data == DEFAULT_DATA else header[-1])
    if label not in header:
        raise UserError(Problem(data, 1, 1, f"--label: no column {label!r} in the header; expected one of {header}"))
    check_owners(new.owners)
    new.owners = new.owners or default_owners(root)
    files = render(new, infer_features(data, header, rows, label), data, label)
    (root / MODELS).mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".new-{new.name}.", dir=root / MODELS))
    try:
        staging = work / MODELS / new.name
        for name, content in files.items():
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            (staging / name).write_text(content, "utf-8")
        _self_check(work, new, files)
        if target.exists():  # created meanwhile
            raise UserError(Problem(f"{MODELS}/{new.name}", 1, 1, "already exists; expected a new model name"))
        os.rename(staging, target)  # one step: the directory appears whole or not at all
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target

"""The model contract, checked early: model.yaml's ``params`` against what ``build()`` reads (``ast``, no import)."""

from __future__ import annotations

import ast
from pathlib import Path
from textwrap import dedent

import pytest

from mlops.core import contract, contract_types
from mlops.core.checks import check_repository
from mlops.core.repo import load_repository
from tests.conftest import ROOT, run_cli

MODEL = "models/cancer-mlp/model.yaml"
CODE = "models/cancer-mlp/model.py"
PARAMS = "params:\n  hidden: [32, 16]\n  dropout: 0.1\n"  # lines 45-47 of the example's model.yaml
AT = "models/cancer-mlp/model.yaml"
IN = "models/cancer-mlp/model.py"


def problems(repo: Path, source: str, params: str | None = PARAMS) -> list[str]:
    """Cross-file problems with ``model.py`` = ``source`` and the ``params:`` block replaced by ``params``."""
    (repo / CODE).write_text(dedent(source).lstrip())
    text = (ROOT / MODEL).read_text()
    assert PARAMS in text
    (repo / MODEL).write_text(text.replace(PARAMS, params or ""))
    loaded = load_repository(repo)
    assert loaded.problems == [], loaded.problems
    return sorted(str(p) for p in check_repository(loaded))


def reads(source: str) -> contract.Reads:
    tree = ast.parse(dedent(source))
    build = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "build")
    return contract.reads(tree, build)


DIGITS = """
    def build(params, n_features, n_outputs):
        return Net(int(params.get("channels", 16)), int(params.get("hidden", 64)),
                   float(params.get("dropout", 0.1)), n_outputs)
"""


# --- the shipped examples and the scaffold --------------------------------------------------------------------------

def test_shipped_examples_read_what_their_specs_set() -> None:
    for model, names in [("digits-cnn", ["channels", "dropout", "hidden"]), ("cancer-mlp", ["dropout", "hidden"])]:
        tree = ast.parse((ROOT / "models" / model / "model.py").read_text())
        build = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "build")
        found = contract.reads(tree, build)
        assert not found.open and sorted(found.keys) == names
        assert all(not key.required and key.expects for key in found.keys.values())


def test_example_repository_validates_clean() -> None:
    result = run_cli("validate", "--repo", str(ROOT))
    assert result.code == 0, result.err
    assert result.out.startswith("ok: ")


def test_a_typo_fails_validate_on_the_command_line(example_repo: Path) -> None:
    spec = example_repo / "models/digits-cnn/model.yaml"
    spec.write_text(spec.read_text().replace("  channels: 16\n", "  chanels: 16\n"))
    result = run_cli("validate", "--repo", str(example_repo))
    assert result.code == 1
    assert result.err.splitlines() == [
        "models/digits-cnn/model.yaml:79:3: params.chanels is not read by build() in models/digits-cnn/model.py "
        "(it reads channels, dropout, hidden); expected one of those — a typo of 'channels'?"]


# --- unknown names ---------------------------------------------------------------------------------------------------

def test_unknown_name_with_its_closest_match(example_repo: Path) -> None:
    assert problems(example_repo, DIGITS, "params:\n  chanels: 16\n  hidden: 64\n  dropout: 0.1\n") == [
        f"{AT}:46:3: params.chanels is not read by build() in {IN} (it reads channels, dropout, hidden); "
        "expected one of those — a typo of 'channels'?"]


def test_unknown_name_without_a_close_one(example_repo: Path) -> None:
    assert problems(example_repo, DIGITS, "params:\n  momentum: 0.9\n") == [
        f"{AT}:46:3: params.momentum is not read by build() in {IN} (it reads channels, dropout, hidden); "
        "expected one of those, or remove it"]


def test_a_builder_that_ignores_params(example_repo: Path) -> None:
    assert problems(example_repo, "def build(params, n_features, n_outputs):\n    return n_features\n") == [
        f"{AT}:46:3: params.hidden is not read by build() in {IN} (it reads no params); expected build() to read "
        "it, or remove it",
        f"{AT}:47:3: params.dropout is not read by build() in {IN} (it reads no params); expected build() to read "
        "it, or remove it"]


@pytest.mark.parametrize("read", [
    'params["width"]', 'params.get("width")', 'params.get("width", 3)', 'params.pop("width", None)',
    'params.setdefault("width", 3)', '"width" in params'])
def test_every_form_of_read_names_a_key(read: str) -> None:
    found = reads(f"def build(cfg, n_features, n_outputs):\n    x = {read.replace('params', 'cfg')}\n")
    assert not found.open and list(found.keys) == ["width"]


# --- the open set: no false alarms ----------------------------------------------------------------------------------

@pytest.mark.parametrize("escape", [
    "for k in params:\n        print(k)",
    "return make(**params)",
    "return other.make(params)",
    "return params",
    "self_ = Holder()\n    self_.params = params",
    "cfg = dict(params)",
    "return list(params.items())",
    "key = 'hid' + 'den'\n    return params[key]",
    "params = {**DEFAULTS, **params}",
    "g = params.get\n    return g('x')",
    "return [params]",
    "return lambda params: params",
    "return _helper(params)\ndef _helper(*args):\n    return args",
    "return _helper(params)\ndef _helper(p):\n    return list(p)",
    "return Net(params)\nclass Net:\n    def __init__(self, p):\n        self.p = p",
    "return helper(params)\ndef helper(p):\n    pass\ndef helper(p):\n    return p",
    "return Net(params)\n@decorate\nclass Net:\n    def __init__(self, p):\n        pass",
])
def test_escapes_leave_the_names_open(example_repo: Path, escape: str) -> None:
    source = f'def build(params, n_features, n_outputs):\n    x = params.get("hidden")\n    {escape}\n'
    assert reads(source).open
    assert problems(example_repo, source, "params:\n  hiddden: 3\n  whatever: [1]\n") == []


@pytest.mark.parametrize("source", [
    "def build(*args):\n    return args\n",
    "def build(params, n_features, n_outputs, **kwargs):\n    return make(**params)\n",
    "from lib import build\n",
    "def _make(p, f, o):\n    return p['x']\nbuild = _make\n",
])
def test_builders_that_cannot_be_followed_stay_silent(example_repo: Path, source: str) -> None:
    assert problems(example_repo, source, "params:\n  anything: 1\n  at_all: [x]\n") == []


def test_harmless_uses_keep_the_set_closed() -> None:
    found = reads("""
        def build(params, n_features, n_outputs):
            if not params or params is None or len(params) > 3 or isinstance(params, dict):
                pass
            assert params
            return params["depth"]
    """)
    assert not found.open and list(found.keys) == ["depth"]


# --- missing names ---------------------------------------------------------------------------------------------------

def test_missing_required_name(example_repo: Path) -> None:
    source = 'def build(params, n_features, n_outputs):\n    return int(params["depth"]) + params.get("hidden", 1)\n'
    assert problems(example_repo, source, "params:\n  hidden: 2\n") == [
        f"{AT}:45:1: params.depth is not set but build() reads params['depth'] without a default ({IN}:2); "
        "expected depth under params"]


def test_missing_required_name_without_any_params(example_repo: Path) -> None:
    source = 'def build(params, n_features, n_outputs):\n    return params.pop("depth")\n'
    assert problems(example_repo, source, None) == [
        f"{AT}:4:1: params.depth is not set but build() reads params.pop('depth') without a default ({IN}:2); "
        "expected depth under params"]


@pytest.mark.parametrize("body", [
    'if n_outputs > 2:\n        return params["depth"]',
    'return params["depth"] if "depth" in params else 3',
    'try:\n        return params["depth"]\n    except KeyError:\n        return 3',
    'if n_outputs:\n        return 1\n    return params["depth"]',
    'params.setdefault("depth", 3)\n    return params["depth"]',
    'return n_outputs or params["depth"]',
    'return [params["depth"] for _ in range(n_outputs)]',
    'return helper(params) if n_outputs else 0\ndef helper(p):\n    return p["depth"]',
])
def test_conditional_reads_are_not_required(example_repo: Path, body: str) -> None:
    source = f"def build(params, n_features, n_outputs):\n    {body}\n"
    assert problems(example_repo, source, "params:\n  hidden: 2\n") == [
        f"{AT}:46:3: params.hidden is not read by build() in {IN} (it reads depth); expected one of those, or "
        "remove it"]


# --- obviously wrong types --------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("read", "value", "expected"), [
    ('float(params.get("dropout", 0.1))', "high",
     "params.dropout is a string ('high') but build() reads it with float(…) (models/cancer-mlp/model.py:2); "
     "expected a number"),
    ('int(params["dropout"])', "[1, 2]",
     "params.dropout is a list ([1, 2]) but build() reads it with int(…) (models/cancer-mlp/model.py:2); "
     "expected a number"),
    ('float(params["dropout"])', "true",
     "params.dropout is a boolean (true) but build() reads it with float(…) (models/cancer-mlp/model.py:2); "
     "expected a number"),
    ('params.get("dropout", 0.1)', "1e-3",
     "params.dropout is a string ('1e-3') but build() defaults it to 0.1 (models/cancer-mlp/model.py:2); "
     "expected a number (YAML reads 1e-3 as a string; write 0.001)"),
    ('float(params["dropout"])', '"0.5"',
     "params.dropout is a string ('0.5') but build() reads it with float(…) (models/cancer-mlp/model.py:2); "
     "expected a number (a quoted number; write it without quotes)"),
    ('[int(h) for h in params.get("dropout", [32])]', "32",
     "params.dropout is an integer (32) but build() iterates over it (models/cancer-mlp/model.py:2); "
     "expected a list of numbers"),
    ('[int(h) for h in params["dropout"]]', "[32, x]",
     "params.dropout is a list ([32, 'x']) but build() iterates over it (models/cancer-mlp/model.py:2); "
     "expected a list of numbers"),
    ('params.get("dropout", -1)', "x",
     "params.dropout is a string ('x') but build() defaults it to -1 (models/cancer-mlp/model.py:2); "
     "expected a number"),
    ('params.get("dropout", [64, 32])', "64",
     "params.dropout is an integer (64) but build() defaults it to [64, 32] (models/cancer-mlp/model.py:2); "
     "expected a list"),
    ('bool(params["dropout"])', "'false'",
     "params.dropout is a string ('false') but build() reads it with bool(…) (models/cancer-mlp/model.py:2); "
     "expected true or false"),
    ('str(params["dropout"])', "[a]",
     "params.dropout is a list (['a']) but build() reads it with str(…) (models/cancer-mlp/model.py:2); "
     "expected a single value"),
])
def test_wrong_types(example_repo: Path, read: str, value: str, expected: str) -> None:
    source = f"def build(params, n_features, n_outputs):\n    return {read}\n"
    assert problems(example_repo, source, f"params:\n  dropout: {value}\n") == [f"{AT}:46:12: {expected}"]


@pytest.mark.parametrize(("read", "value"), [
    ('int(params.get("dropout", 16))', "16.5"),  # int() truncates a float
    ('float(params["dropout"])', "3"),  # an int where a float is expected
    ('bool(params["dropout"])', "1"),
    ('str(params["dropout"])', "3"),
    ('params.get("dropout")', "[anything]"),  # nothing says the type
    ('[h for h in params["dropout"]]', "[1, x]"),
])
def test_types_that_fit(example_repo: Path, read: str, value: str) -> None:
    source = f"def build(params, n_features, n_outputs):\n    return {read}\n"
    assert problems(example_repo, source, f"params:\n  dropout: {value}\n") == []


# --- following params into the module's own functions and classes ---------------------------------------------------

HELPERS = """
    def build(params, n_features, n_outputs):
        head = _head(params, n_outputs)
        return Net(n_features, cfg=params, head=head)

    def _head(p, n):
        return float(p.get("dropout", 0.0)), int(p["width"])

    class Net:
        def __init__(self, n_features, cfg, head):
            self.body = [int(cfg.get("depth", 2))]
"""


def test_helpers_and_classes_are_followed(example_repo: Path) -> None:
    assert problems(example_repo, HELPERS, "params:\n  widht: 8\n  dropout: x\n  depth: 2\n") == [
        f"{AT}:45:1: params.width is not set but _head() reads params['width'] without a default ({IN}:6); "
        "expected width under params",
        f"{AT}:46:3: params.widht is not read by build() in {IN} (it reads depth, dropout, width); expected one of "
        "those — a typo of 'width'?",
        f"{AT}:47:12: params.dropout is a string ('x') but _head() reads it with float(…) ({IN}:6); expected a "
        "number"]


def test_recursion_is_followed_once() -> None:
    found = reads("""
        def build(params, n_features, n_outputs):
            return _layer(params, 3)

        def _layer(p, n):
            return _layer(p, n - 1) if n else p.get("width", 4)
    """)
    assert not found.open and list(found.keys) == ["width"]


# --- typed contracts -------------------------------------------------------------------------------------------------

TYPED_DICT = """
    from typing import Literal, NotRequired, TypedDict

    class Params(TypedDict):
        hidden: list[int]
        dropout: float
        activation: NotRequired[Literal["relu", "gelu"]]

    class Extra(Params, total=False):
        depth: int

    def build(params: Extra, n_features, n_outputs):
        return params
"""

DATACLASS = """
    from dataclasses import dataclass, field
    from typing import ClassVar

    @dataclass(frozen=True)
    class Params:
        hidden: "list[int]"
        dropout: float = 0.1
        depth: int | None = None
        layers: tuple[int, ...] = field(default_factory=tuple)
        batchnorm: bool = field(default=False)
        kind: ClassVar[str] = "mlp"

    def build(params: Params, n_features, n_outputs):
        return params.hidden
"""


def test_typed_dict_contract(example_repo: Path) -> None:
    found = reads(TYPED_DICT)
    assert not found.open and found.typed == "Extra"
    assert {k: bool(v.required) for k, v in found.keys.items()} == {
        "hidden": True, "dropout": True, "activation": False, "depth": False}
    assert problems(example_repo, TYPED_DICT, "params:\n  hidden: 32\n  activation: tanh\n  dept: 2\n") == [
        f"{AT}:45:1: params.dropout is not set but field dropout of Params has no default ({IN}:5); expected "
        "dropout under params",
        f"{AT}:46:11: params.hidden is an integer (32) but Params declares it `list[int]` ({IN}:4); expected a "
        "list of integers",
        f"{AT}:47:15: params.activation is a string ('tanh') but Params declares it `Literal['relu', 'gelu']` "
        f"({IN}:6); expected one of 'relu', 'gelu'",
        f"{AT}:48:3: params.dept is not a field of Extra, the type of build()'s params in {IN} (activation, depth, "
        "dropout, hidden); expected one of those — a typo of 'depth'?"]
    assert problems(example_repo, TYPED_DICT, "params:\n  hidden: [32]\n  dropout: 0\n  depth: 2\n") == []


def test_dataclass_contract(example_repo: Path) -> None:
    found = reads(DATACLASS)
    assert not found.open and found.typed == "Params"
    assert sorted(found.keys) == ["batchnorm", "depth", "dropout", "hidden", "layers"]
    assert [k for k, v in found.keys.items() if v.required] == ["hidden"]
    assert problems(example_repo, DATACLASS, "params:\n  hidden: [32]\n  depth: 2.5\n  batchnorm: 1\n") == [
        f"{AT}:47:10: params.depth is a float (2.5) but Params declares it `int | None` ({IN}:8); expected an "
        "integer",
        f"{AT}:48:14: params.batchnorm is an integer (1) but Params declares it `bool` ({IN}:10); expected true or "
        "false"]
    assert problems(example_repo, DATACLASS, None) == [
        f"{AT}:4:1: params.hidden is not set but field hidden of Params has no default ({IN}:6); expected hidden "
        "under params"]
    assert problems(example_repo, DATACLASS, "params:\n  hidden: [1, 2]\n  layers: [3]\n  dropout: 1\n") == []


def test_typed_contract_with_fields_from_elsewhere_is_open() -> None:
    found = reads("""
        from lib import Base
        from dataclasses import dataclass

        @dataclass
        class Params(Base):
            hidden: int = 3

        def build(params: Params, n_features, n_outputs):
            return params
    """)
    assert found.open and found.typed == "Params" and list(found.keys) == ["hidden"]


def test_an_annotation_that_is_no_contract_falls_back_to_the_reads() -> None:
    found = reads("""
        class Config(dict):
            pass

        def build(params: Config, n_features, n_outputs):
            return params["x"]
    """)
    assert not found.typed and list(found.keys) == ["x"]


@pytest.mark.parametrize(("annotation", "good", "bad"), [
    ("int", [3], [3.0, True, "3", [3]]),
    ("float", [3, 3.5], [True, "x", [1.0]]),
    ("str", ["x"], [1, [1]]),
    ("bool", [True], [1, "yes"]),
    ("Sequence[float]", [[1, 2.5], []], [1.0, ["x"]]),
    ("tuple[int, str]", [[1, "x"]], ["x"]),
    ("Optional[int]", [1], [1.5]),
    ("Union[int, str]", [1, "x"], [1.5, [1]]),
    ("Literal[1, 'a', True]", [1, "a", True], [2, "b", False, 1.0]),
    ("Annotated[int, 'positive']", [1], ["1"]),
])
def test_annotations(annotation: str, good: list[object], bad: list[object]) -> None:
    expect = contract_types.expectation(ast.parse(annotation, mode="eval").body)
    assert expect is not None
    assert all(expect.accepts(v) for v in good)
    assert not any(expect.accepts(v) for v in bad)


@pytest.mark.parametrize("annotation", ["Any", "dict[str, int]", "MyType", "int | Any", "'not valid ('"])
def test_annotations_that_say_nothing_checkable(annotation: str) -> None:
    assert contract_types.expectation(ast.parse(repr(annotation) if "(" in annotation else annotation,
                                         mode="eval").body) is None

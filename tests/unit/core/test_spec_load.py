"""Schema problems land on the right line and column, one per place, saying what is expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops.core import yamlpos
from mlops.core.errors import UserError
from mlops.core.spec import Environment, ModelSpec
from mlops.core.spec.load import _fields_at, validate
from tests.conftest import ROOT

MODEL = (ROOT / "models/cancer-mlp/model.yaml").read_text("utf-8")
ENV = (ROOT / "environments/staging.yaml").read_text("utf-8")


def model_problems(old: str, new: str) -> list[str]:
    assert old in MODEL
    return _problems(MODEL.replace(old, new, 1), ModelSpec)


def env_problems(old: str, new: str) -> list[str]:
    assert old in ENV
    return _problems(ENV.replace(old, new, 1), Environment)


def _problems(text: str, cls: type[ModelSpec] | type[Environment]) -> list[str]:
    doc = yamlpos.parse(text, "x.yaml")
    with pytest.raises(UserError) as info:
        validate(doc, cls)
    return [str(p) for p in info.value.problems]


def test_example_files_validate() -> None:
    for path in sorted((ROOT / "models").glob("*/model.yaml")):
        spec = validate(yamlpos.load(path), ModelSpec)
        assert spec.name == path.parent.name
    for path in sorted((ROOT / "environments").glob("*.yaml")):
        env = validate(yamlpos.load(path), Environment)
        assert env.name == path.stem


def test_unknown_key_lists_the_allowed_ones() -> None:
    assert model_problems("replicas: {min: 1, max: 3}", "replicas: {min: 1, max: 3, maxx: 4}") == [
        "x.yaml:73:30: unknown key 'maxx' in serving.replicas; expected one of: min, max, target_cpu_utilization"]


def test_unknown_top_level_key() -> None:
    assert model_problems("task: classification", "task: classification\ntsk: x")[0].startswith(
        "x.yaml:8:1: unknown key 'tsk' in (top level); expected one of: apiVersion, kind, name,")


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("epochs: 30", "epochs: thirty", "x.yaml:49:11: training.epochs: expected an integer, got str 'thirty'"),
    ("epochs: 30", "epochs: '30'", "x.yaml:49:11: training.epochs: expected an integer, got str '30'"),
    ("epochs: 30", "epochs: 30.0", "x.yaml:49:11: training.epochs: expected an integer, got float 30.0"),
    ("epochs: 30", "epochs: true", "x.yaml:49:11: training.epochs: expected an integer, got bool True"),
    ("epochs: 30", "epochs: 0", "x.yaml:49:11: training.epochs: expected greater than 0, got 0"),
    ("task: classification", "task: clustering",
     "x.yaml:7:7: task: 'clustering' is not allowed; expected 'classification' or 'regression'"),
    ("datatype: FP32", "datatype: fp32",
     "x.yaml:70:34: serving.input.datatype: 'fp32' is not allowed; expected 'FP32', 'FP64', 'INT32', 'INT64' "
     "or 'BOOL'"),
    ("replicas: {min: 1, max: 3}", "replicas: {min: -1, max: 3}",
     "x.yaml:73:19: serving.replicas.min: expected greater than or equal to 0, got -1"),
    ("cpu: 250m", "cpu: 2 cores",
     "x.yaml:72:20: serving.resources.cpu: '2 cores' is not a Kubernetes quantity; expected e.g. '500m', '2', "
     "'512Mi' or '1Gi'"),
    ("owners: [ml-platform/tabular, bob]", "owners: []",
     "x.yaml:6:9: owners: expected at least 1 item, got []"),
    ("description: Tabular MLP that flags malignant tumours from 30 cell-nucleus measurements (Wisconsin breast "
     "cancer).", "description: ''", "x.yaml:5:14: description: expected at least 1 character, got ''"),
    ("owners: [ml-platform/tabular, bob]", "owners: bob", "x.yaml:6:9: owners: expected a list, got str 'bob'"),
    ("name: cancer-mlp", "name: ../etc",
     "x.yaml:4:7: name: '../etc' is not a DNS-1123 label; expected lower-case letters, digits and '-', starting "
     "and ending with a letter or digit, at most 63 characters"),
])
def test_type_and_value_problems(old: str, new: str, expected: str) -> None:
    assert model_problems(old, new) == [expected]


def test_missing_required_key_points_at_its_parent() -> None:
    assert model_problems("task: classification\n", "") == ["x.yaml:2:1: missing required key 'task' in (top level)"]
    assert model_problems("  label: malignant\n", "") == ["x.yaml:9:1: missing required key 'label' in data"]


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("min_samples: 100", "min_samples: 1000",
     "x.yaml:78:16: monitoring.min_samples: min_samples (1000) is larger than window_size (300); expected "
     "min_samples ≤ window_size"),
    ("replicas: {min: 1, max: 3}", "replicas: {min: 4, max: 3}",
     "x.yaml:73:19: serving.replicas.min: min (4) is larger than max (3); expected min ≤ max"),
    ("split: {test: 0.25, validation: 0.1, seed: 11}", "split: {test: 0.95, validation: 0.1, seed: 11}",
     "x.yaml:12:17: data.split.test: test + validation (0.95 + 0.1) must leave rows for training; expected a sum "
     "below 1"),
    ("path: data/breast-cancer/breast_cancer.csv", "path: ../secret.csv",
     "x.yaml:10:9: data.path: '../secret.csv' is not a relative path inside data/; expected e.g. 'data/x/y.csv'"),
    ("shape: [30]", "shape: [30, 0]",
     "x.yaml:70:47: serving.input.shape: shape [30, 0] has a dimension ≤ 0; expected positive dimensions"),
])
def test_model_validator_problems_point_at_their_field(old: str, new: str, expected: str) -> None:
    assert model_problems(old, new) == [expected]


def test_gate_without_rule_points_at_the_gate() -> None:
    gate = "{name: min-accuracy, metric: accuracy"
    assert model_problems(gate + ", min: 0.92}", gate + "}") == [
        "x.yaml:59:7: evaluation.gates[0]: gate 'min-accuracy' sets no rule; expected min, max or max_regression"]


def test_every_problem_is_reported_at_once() -> None:
    text = MODEL.replace("epochs: 30", "epochs: -1").replace("cpu: 250m", "cpu: lots").replace(
        "task: classification", "task: x")
    assert [p.split(": ")[0] for p in _problems(text, ModelSpec)] == ["x.yaml:7:7", "x.yaml:49:11", "x.yaml:72:20"]


def test_union_pin_value_of_wrong_type_is_one_problem() -> None:
    assert env_problems("pins: {}", "pins: {cancer-mlp: 123}") == [
        "x.yaml:22:20: pins.cancer-mlp: expected a string or a mapping, got int 123"]


def test_union_pin_mapping_reports_only_the_mapping_branch() -> None:
    assert env_problems("pins: {}", "pins: {cancer-mlp: {version: v1, bogus: 1}}") == [
        "x.yaml:22:34: unknown key 'bogus' in pins.cancer-mlp; expected one of: version, image"]
    assert env_problems("pins: {}", "pins: {cancer-mlp: {}}") == [
        "x.yaml:22:8: missing required key 'version' in pins.cancer-mlp"]


def test_union_pin_bad_version_string() -> None:
    assert env_problems("pins: {}", "pins: {cancer-mlp: V1}") == [
        "x.yaml:22:20: pins.cancer-mlp: 'V1' is not a version id; expected lower-case letters, digits, '.' and '-' "
        "(≤63)"]


def test_params_union_is_one_merged_problem() -> None:
    assert model_problems("dropout: 0.1", "dropout: {a: 1}") == [
        "x.yaml:47:12: params.dropout: expected true or false, an integer, a number, a string or a list, got dict "
        "{'a': 1}"]
    assert model_problems("hidden: [32, 16]", "hidden: [32, [16]]") == [
        "x.yaml:46:16: params.hidden[1]: expected true or false, an integer, a number or a string, got list [16]"]


def test_environment_problems() -> None:
    assert env_problems('version: "1.31"', "version: 1.30") == [
        'x.yaml:6:23: kubernetes.version: 1.3 is a number; expected the Kubernetes version as a quoted string, e.g. '
        '"1.31" (unquoted 1.30 reads as 1.3)']
    assert env_problems("kubernetes: {version: \"1.31\", namespace: mlops-staging}\n", "") == [
        'x.yaml:5:9: target: target \'kubernetes\' needs a \'kubernetes\' section; expected kubernetes: '
        '{version: "1.31", namespace: NAME}']
    assert env_problems("target: kubernetes", "target: cloud") == [
        "x.yaml:5:9: target: 'cloud' is not allowed; expected 'kubernetes' or 'local'"]


def test_fields_at_walks_models_unions_and_containers() -> None:
    assert _fields_at(ModelSpec, ("serving", "replicas")) == ["min", "max", "target_cpu_utilization"]
    assert _fields_at(Environment, ("pins", "any-model")) == ["version", "image"]
    assert _fields_at(Environment, ("overrides", "m", "tolerations", 0)) == ["key", "operator", "value", "effect"]
    assert _fields_at(Environment, ("kubernetes",)) == ["version", "namespace", "context"]
    assert _fields_at(ModelSpec, ("params", "x")) is None
    assert _fields_at(ModelSpec, ("nope",)) is None


def test_load_and_validate_a_file(tmp_path: Path) -> None:
    file = tmp_path / "m.yaml"
    file.write_text(MODEL, "utf-8")
    spec = validate(yamlpos.load(file, "m.yaml"), ModelSpec)
    assert spec.serving.input.size == 30
    assert list(spec.data.features)[:2] == ["mean_radius", "mean_texture"]

"""The bad-input suite: each case breaks one thing in a copy of the example repository.

Every case must give exit code 1, the problem at its exact ``path:line:col``, no traceback, and
leave every file of the repository exactly as it was. Most cases run in-process through
``mlops.cli.main`` (fast); a few run ``python -m mlops`` in a subprocess to prove the same end to end.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlops.cli import main
from tests.conftest import run_cli
from tests.unit.core.conftest import write_record

M = "models/cancer-mlp/model.yaml"
PY = "models/cancer-mlp/model.py"
DEV = "environments/dev.yaml"
STAGING = "environments/staging.yaml"
RECORD = "models/cancer-mlp/versions/20250101-aaaaaaaa.yaml"
Mutation = Callable[[Path], object]


def sub(rel: str, old: str, new: str) -> Mutation:
    def apply(repo: Path) -> None:
        path = repo / rel
        text = path.read_text("utf-8")
        assert old in text, f"{rel} lacks {old!r}"
        path.write_text(text.replace(old, new, 1), "utf-8")
    return apply


def put(rel: str, data: str | bytes) -> Mutation:
    def apply(repo: Path) -> None:
        path = repo / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, bytes):
            path.write_bytes(data)
        else:
            path.write_text(data, "utf-8")
    return apply


def both(*steps: Mutation) -> Mutation:
    def apply(repo: Path) -> None:
        for step in steps:
            step(repo)
    return apply


def record(repo: Path) -> None:
    write_record(repo, "cancer-mlp", "20250101-aaaaaaaa")


def bytes_sub(rel: str, old: bytes, new: bytes) -> Mutation:
    def apply(repo: Path) -> None:
        path = repo / rel
        path.write_bytes(path.read_bytes().replace(old, new, 1))
    return apply


BOMB = "".join(f"b{i}: &b{i} [" + ", ".join([f"*b{i - 1}"] * 10 if i else ["x"] * 10) + "]\n" for i in range(7))


@dataclass(frozen=True)
class Case:
    id: str
    mutate: Mutation
    where: str  # the exact path:line:col the problem must be reported at
    says: str  # a fragment of the message


CASES = [
    Case("yaml-syntax-error", sub(M, "task: classification", "task: [classification"),
         f"{M}:8:5", "YAML syntax error: did not find expected ',' or ']'"),
    Case("tab-indentation", sub(M, "  epochs: 30", "\tepochs: 30"),
         f"{M}:49:1", "YAML syntax error: found character that cannot start any token"),
    Case("duplicate-key", sub(M, "task: classification", "task: classification\ntask: regression"),
         f"{M}:8:1", "duplicate key 'task' (first defined on line 7)"),
    Case("duplicate-nested-key", sub(M, "  window_size: 300", "  window_size: 300\n  window_size: 400"),
         f"{M}:78:3", "duplicate key 'window_size' (first defined on line 77)"),
    Case("unknown-key", sub(M, "task: classification", "task: classification\ntsk: x"),
         f"{M}:8:1", "unknown key 'tsk' in (top level); expected one of: apiVersion"),
    Case("unknown-nested-key", sub(M, "replicas: {min: 1, max: 3}", "replicas: {min: 1, max: 3, maxx: 4}"),
         f"{M}:73:30", "unknown key 'maxx' in serving.replicas; expected one of: min, max"),
    Case("wrong-type", sub(M, "epochs: 30", "epochs: thirty"),
         f"{M}:49:11", "training.epochs: expected an integer, got str 'thirty'"),
    Case("wrong-type-pin", sub(STAGING, "pins: {}", "pins: {cancer-mlp: 123}"),
         f"{STAGING}:22:20", "pins.cancer-mlp: expected a string or a mapping, got int 123"),
    Case("negative-replicas", sub(M, "replicas: {min: 1, max: 3}", "replicas: {min: -1, max: 3}"),
         f"{M}:73:19", "serving.replicas.min: expected greater than or equal to 0, got -1"),
    Case("replicas-min-above-max", sub(M, "replicas: {min: 1, max: 3}", "replicas: {min: 5, max: 3}"),
         f"{M}:73:19", "min (5) is larger than max (3); expected min ≤ max"),
    Case("quantity-2-cores", sub(M, "cpu: 250m", "cpu: 2 cores"),
         f"{M}:72:20", "'2 cores' is not a Kubernetes quantity; expected e.g. '500m'"),
    Case("name-dotdot-etc", sub(M, "name: cancer-mlp", "name: ../etc"),
         f"{M}:4:7", "'../etc' is not a DNS-1123 label"),
    Case("name-upper-case", sub(M, "name: cancer-mlp", "name: Cancer-MLP"),
         f"{M}:4:7", "'Cancer-MLP' is not a DNS-1123 label"),
    Case("name-64-chars", sub(M, "name: cancer-mlp", "name: " + "a" * 64),
         f"{M}:4:7", "is not a DNS-1123 label; expected lower-case letters, digits and '-', starting and ending "
                     "with a letter or digit, at most 63 characters"),
    Case("name-not-directory", sub(M, "name: cancer-mlp", "name: cancer-net"),
         f"{M}:4:7", "name 'cancer-net' does not match its directory models/cancer-mlp/; expected 'cancer-mlp'"),
    Case("env-name-not-file", sub(STAGING, "name: staging", "name: stage"),
         f"{STAGING}:3:7", "name 'stage' does not match the file name staging.yaml; expected 'staging'"),
    Case("bad-owner", sub(M, "owners: [ml-platform/tabular, bob]", "owners: [ml platform]"),
         f"{M}:6:10", "owners[0]: 'ml platform' is not a GitHub user or 'org/team'"),
    Case("dangling-pin", sub(STAGING, "pins: {}", "pins: {nope: v1}"),
         f"{STAGING}:22:8", "pin names model 'nope', which does not exist; expected one of ['cancer-mlp', "
                            "'digits-cnn']"),
    Case("cyclic-promotion", sub(STAGING, "promoted_from: dev", "promoted_from: prod"),
         f"{STAGING}:8:16", "promotion cycle prod → staging → prod; expected a chain starting at 'dev'"),
    Case("promoted-from-itself", sub(STAGING, "promoted_from: dev", "promoted_from: staging"),
         f"{STAGING}:8:16", "environment 'staging' is promoted from itself"),
    Case("second-env-from-dev", put("environments/qa.yaml", "name: qa\ntarget: local\npromoted_from: dev\n"),
         "environments/qa.yaml:3:16", "'staging' is also promoted from 'dev'; the promotion order must be a chain"),
    Case("root-env-not-dev", put("environments/qa.yaml", "name: qa\ntarget: local\n"),
         "environments/qa.yaml:1:7", "environment 'qa' sets no promoted_from; only 'dev' starts the promotion chain"),
    Case("dev-promoted-from", sub(DEV, "name: dev", "name: dev\npromoted_from: prod"),
         f"{DEV}:6:16", "'dev' starts the promotion chain; expected no promoted_from here"),
    Case("no-dev-environment", lambda repo: (repo / DEV).unlink(),
         "environments:1:1", "no environments/dev.yaml; expected the promotion chain to start there"),
    Case("model-gate-unknown-metric", sub(M, "metrics: [accuracy, macro_f1, log_loss]", "metrics: [accuracy]"),
         f"{M}:60:36", "gate 'max-log-loss' names metric 'log_loss', which model 'cancer-mlp' does not produce"),
    Case("env-policy-gate-unknown-metric",
         both(sub(STAGING, "pins: {}", "pins: {cancer-mlp: v1}"), sub(STAGING, "metric: accuracy", "metric: rmse")),
         f"{STAGING}:14:46", "gate 'no-accuracy-regression' names metric 'rmse', which model 'cancer-mlp' does not "
                             "produce"),
    Case("missing-data-path", sub(M, "path: data/breast-cancer/breast_cancer.csv", "path: data/nope.csv"),
         f"{M}:10:9", "data path 'data/nope.csv' is not in the DVC-tracked tree"),
    Case("data-path-outside-data", sub(M, "path: data/breast-cancer/breast_cancer.csv", "path: ../secret.csv"),
         f"{M}:10:9", "data.path: '../secret.csv' is not a relative path inside data/"),
    Case("no-data-pointer", lambda repo: (repo / "data.dvc").unlink(),
         "data.dvc:1:1", "missing; expected the DVC pointer for data/"),
    Case("corrupt-dvc-manifest",
         lambda repo: [p.write_text("{oops") for p in (repo / ".dvc/cache").rglob("*.dir")],
         "data.dvc:2:8", "is corrupt (not a list of relpath entries)"),
    Case("empty-file", put(M, ""), f"{M}:1:1", "file is empty; expected a YAML mapping"),
    Case("empty-document", put(STAGING, "---\n"), f"{STAGING}:1:1", "document is empty; expected a YAML mapping"),
    Case("top-level-list", put(STAGING, "- dev\n- prod\n"), f"{STAGING}:1:1",
         "expected a YAML mapping at the top level, got a list"),
    Case("binary-file", put(M, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), f"{M}:1:1",
         "binary file (contains NUL bytes); expected UTF-8 YAML text"),
    Case("non-utf8-file", bytes_sub(M, b"Tabular", b"Tabul\xe4r"), f"{M}:5:19",
         "not valid UTF-8; expected UTF-8 YAML text"),
    Case("control-character", sub(M, "Tabular MLP", "Tab\x07ular MLP"), f"{M}:5:17",
         "invalid character '\\x07' (control characters are not allowed)"),
    Case("yaml-alias-bomb", sub(M, "params:\n", BOMB + "params:\n"), f"{M}:49:1",
         "document expands to more than 100000 nodes (an alias bomb?)"),
    Case("recursive-alias", sub(M, "hidden: [32, 16]", "hidden: &a [32, *a]"), f"{M}:46:15",
         "nesting deeper than 64 levels"),
    Case("merge-key", sub(M, "params:\n  hidden: [32, 16]", "base: &b {hidden: [32, 16]}\nparams:\n  <<: *b"),
         f"{M}:47:3", "YAML merge keys ('<<') are not supported; write the keys out"),
    Case("python-tag", sub(M, "serving:\n", "serving: !!python/object:os.system\n"), f"{M}:69:10",
         "unsupported YAML tag '!!python/object:os.system'; expected a plain mapping"),
    Case("python-apply-tag", sub(M, "name: cancer-mlp", "name: !!python/object/apply:os.system [id]"), f"{M}:4:7",
         "unsupported YAML tag '!!python/object/apply:os.system'"),
    Case("boolean-key", sub(M, "task: classification", "task: classification\non: push"), f"{M}:8:1",
         "key 'on' reads as a boolean in YAML; expected a string key"),
    Case("missing-required-key", sub(M, "task: classification\n", ""), f"{M}:2:1",
         "missing required key 'task' in (top level)"),
    Case("wrong-enum-value", sub(M, "task: classification", "task: clustering"), f"{M}:7:7",
         "task: 'clustering' is not allowed; expected 'classification' or 'regression'"),
    Case("bad-cron-schedule", sub(M, 'schedule: "41 */4 * * *"', 'schedule: "every hour"'), f"{M}:79:13",
         "'every hour' is not a cron schedule; expected five fields like '17 */6 * * *'"),
    Case("min-samples-above-window", sub(M, "min_samples: 100", "min_samples: 1000"), f"{M}:78:16",
         "min_samples (1000) is larger than window_size (300); expected min_samples ≤ window_size"),
    Case("bad-kubernetes-version", sub(STAGING, 'version: "1.31"', 'version: "1.99"'), f"{STAGING}:6:23",
         "'1.99' is not a supported Kubernetes version; expected '1.25' … '1.37'"),
    Case("unquoted-kubernetes-version", sub(STAGING, 'version: "1.31"', "version: 1.30"), f"{STAGING}:6:23",
         "1.3 is a number; expected the Kubernetes version as a quoted string"),
    Case("label-listed-as-feature",
         sub(M, "    mean_radius: float64", "    malignant: float64\n    mean_radius: float64"),
         f"{M}:11:10", "label column 'malignant' is also listed in data.features"),
    Case("input-shape-not-features", sub(M, "shape: [30]", "shape: [31]"), f"{M}:70:47",
         "serving.input.shape [31] holds 31 values but data.features lists 30 columns"),
    Case("metric-not-for-task", sub(M, "metrics: [accuracy, macro_f1, log_loss]",
                                    "metrics: [accuracy, macro_f1, log_loss, rmse]"), f"{M}:57:43",
         "metric 'rmse' does not apply to classification"),
    Case("model-py-missing-build", sub(PY, "def build(", "def make("), f"{PY}:1:1",
         "missing function build(params, n_features, n_outputs)"),
    Case("model-py-syntax-error", sub(PY, "width = n_features", "width = = n_features"), f"{PY}:19:13",
         "Python syntax error: invalid syntax"),
    Case("model-py-missing", lambda repo: (repo / PY).unlink(), f"{M}:8:7",
         "user code models/cancer-mlp/model.py does not exist"),
    Case("code-outside-model-dir", sub(M, "code: model.py", "code: ../../etc/passwd.py"), f"{M}:8:7",
         "is not a Python file inside the model directory"),
    Case("edited-version-record", both(record, sub(RECORD, "accuracy: 0.95", "accuracy: 0.99")),
         f"{RECORD}:48:16", "version record was edited after it was written; records are immutable"),
    Case("pin-without-record", both(record, sub(STAGING, "pins: {}", "pins: {cancer-mlp: 20250102-bbbbbbbb}")),
         f"{STAGING}:22:20", "pin cancer-mlp@20250102-bbbbbbbb has no version record; expected one of "
                             "['20250101-aaaaaaaa']"),
    Case("environment-file-is-a-directory", lambda repo: ((repo / STAGING).unlink(), (repo / STAGING).mkdir()),
         f"{STAGING}:1:1", "is a directory; expected a YAML file"),
]


def snapshot(root: Path) -> dict[str, str]:
    """Every file and directory under ``root``: a file's sha256, or 'dir'."""
    out: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        out[rel] = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def test_the_suite_is_large_and_every_case_distinct() -> None:
    assert len(CASES) >= 30
    assert len({c.id for c in CASES}) == len(CASES)


def test_the_example_repository_is_valid(example_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--repo", str(example_repo)]) == 0, capsys.readouterr().err


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, example_repo: Path, capsys: pytest.CaptureFixture[str],
                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    case.mutate(example_repo)
    before = snapshot(example_repo)
    code = main(["validate", "--repo", str(example_repo)])
    out, err = capsys.readouterr()
    assert code == 1, err
    assert "Traceback" not in out + err
    lines = err.splitlines()
    assert f"{case.where}: " in err, f"expected a problem at {case.where}, got:\n{err}"
    assert any(line.startswith(f"{case.where}: ") and case.says in line for line in lines), err
    for line in lines:  # every line is path:line:col: message
        path, line_no, col, message = line.split(":", 3)
        assert path and line_no.isdigit() and col.isdigit() and message.startswith(" "), line
    assert snapshot(example_repo) == before


SUBPROCESS_CASES = ["yaml-syntax-error", "yaml-alias-bomb", "python-tag", "binary-file", "dangling-pin"]


@pytest.mark.parametrize("name", SUBPROCESS_CASES)
def test_bad_input_end_to_end(name: str, example_repo: Path) -> None:
    case = next(c for c in CASES if c.id == name)
    case.mutate(example_repo)
    before = snapshot(example_repo)
    result = run_cli("validate", "--repo", str(example_repo), cwd=example_repo)
    assert result.code == 1
    assert "Traceback" not in result.out + result.err
    assert any(line.startswith(f"{case.where}: ") and case.says in line for line in result.err.splitlines())
    assert snapshot(example_repo) == before


def test_every_problem_is_reported_at_once(example_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ["wrong-type", "dangling-pin"]:
        next(c for c in CASES if c.id == name).mutate(example_repo)
    put(DEV, b"\x00binary")(example_repo)
    sub("models/digits-cnn/model.py", "def build(", "def make(")(example_repo)
    assert main(["validate", "--repo", str(example_repo)]) == 1
    wheres = [line.split(": ")[0] for line in capsys.readouterr().err.splitlines()]
    assert wheres == [f"{DEV}:1:1", f"{STAGING}:22:8", f"{M}:49:11", "models/digits-cnn/model.py:1:1"]


def test_usage_error_exits_2(example_repo: Path) -> None:
    result = run_cli("validate", "--bogus", "--repo", str(example_repo))
    assert result.code == 2
    assert "unrecognized arguments: --bogus" in result.err
    assert "Traceback" not in result.out + result.err

"""How every verb ends: problems, GitHub annotations and step summary, exit codes."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import pytest

from mlops.cli import _run, main
from mlops.core.errors import Problem, UsageError, UserError


@pytest.fixture(autouse=True)
def outside_actions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


@pytest.fixture
def in_actions(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    return summary


def test_annotation_escapes_properties_and_data() -> None:
    problem = Problem("dir,a:b%.yaml", 3, 7, "50% bad\r\nsecond: line, more")
    assert _run.annotation(problem) == (
        "::error file=dir%2Ca%3Ab%25.yaml,line=3,col=7::50%25 bad%0D%0Asecond: line, more")
    assert _run.annotation(Problem("a.yaml", 1, 1, "m"), "warning") == "::warning file=a.yaml,line=1,col=1::m"


def test_in_github_actions_needs_exactly_true(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not _run.in_github_actions()
    monkeypatch.setenv("GITHUB_ACTIONS", "1")
    assert not _run.in_github_actions()
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert _run.in_github_actions()


def test_report_outside_actions_prints_problems_only(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))  # set, but not in Actions: not written
    _run.report_problems([Problem("a.yaml", 2, 3, "x"), Problem("b.yaml", 1, 1, "y")])
    out, err = capsys.readouterr()
    assert out == ""
    assert err == "a.yaml:2:3: x\nb.yaml:1:1: y\n"
    assert not summary.exists()


def test_report_in_actions_annotates_and_summarises(in_actions: Path, capsys: pytest.CaptureFixture[str]) -> None:
    in_actions.write_text("earlier step\n")
    _run.report_problems([Problem("a.yaml", 2, 3, "wants a|b")], "validation failed")
    out, err = capsys.readouterr()
    assert err == "a.yaml:2:3: wants a|b\n"
    assert out == "::error file=a.yaml,line=2,col=3::wants a|b\n"
    assert in_actions.read_text() == (
        "earlier step\n### ❌ validation failed\n\n| file | line:col | problem |\n|---|---|---|\n"
        "| `a.yaml` | 2:3 | wants a\\|b |\n\n")


def test_step_summary_only_in_actions(in_actions: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _run.step_summary("# hi\n\n")
    assert in_actions.read_text() == "# hi\n\n"
    monkeypatch.delenv("GITHUB_STEP_SUMMARY")
    _run.step_summary("# ignored")  # in Actions without a summary file: nothing to do, no error
    assert in_actions.read_text() == "# hi\n\n"


def _raiser(exc: BaseException) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        raise exc

    return run


def test_guarded_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    args = argparse.Namespace()
    assert _run.guarded(lambda a: 0, args) == 0
    assert _run.guarded(lambda a: 3, args) == 3
    assert _run.guarded(_raiser(UserError(Problem("f", 1, 2, "bad"))), args) == 1
    assert _run.guarded(_raiser(UsageError("--env is required")), args) == 2
    assert _run.guarded(_raiser(KeyboardInterrupt()), args) == 130
    assert _run.guarded(_raiser(BrokenPipeError()), args) == 1
    err = capsys.readouterr().err
    assert err == "f:1:2: bad\nmlops: error: --env is required\nmlops: interrupted\n"


def test_guarded_lets_bugs_raise() -> None:
    with pytest.raises(ZeroDivisionError):
        _run.guarded(_raiser(ZeroDivisionError()), argparse.Namespace())


def test_repo_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "environments").mkdir()
    deep = tmp_path / "models" / "m" / "versions"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    assert _run.repo_root(None) == tmp_path.resolve()
    assert _run.repo_root(str(tmp_path)) == tmp_path.resolve()
    with pytest.raises(UsageError, match="not a directory"):
        _run.repo_root(str(tmp_path / "nope"))


def test_repo_root_outside_a_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError, match=r"is not inside an mlops repository \(no models/ or environments/ here or "
                                         r"above\); expected to run in one, or --repo DIR"):
        _run.repo_root(None)
    assert _run.repo_root(None, required=False) == tmp_path.resolve()


# --- through main(): the exit codes a workflow sees ---------------------------------------------------------------

def test_main_valid_repository_exits_0(example_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--repo", str(example_repo)]) == 0
    assert capsys.readouterr().out.startswith("ok: 2 models, 3 environments (dev → staging → prod)")


def test_main_invalid_repository_exits_1(example_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (example_repo / "environments/dev.yaml").write_text("name: [\n")
    assert main(["validate", "--repo", str(example_repo)]) == 1
    assert capsys.readouterr().err.startswith("environments/dev.yaml:2:1: YAML syntax error")


def test_main_invalid_in_actions(example_repo: Path, in_actions: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (example_repo / "environments/dev.yaml").write_text("name: dev\ntarget: moon\n")
    assert main(["validate", "--repo", str(example_repo)]) == 1
    out, err = capsys.readouterr()
    assert "environments/dev.yaml:2:9: target: 'moon' is not allowed; expected 'kubernetes' or 'local'\n" in err
    assert "::error file=environments/dev.yaml,line=2,col=9::target%3A" not in out  # data keeps ':'
    assert "::error file=environments/dev.yaml,line=2,col=9::target: 'moon' is not allowed" in out
    summary = in_actions.read_text()
    assert summary.startswith("### ❌ validation failed\n")
    assert "| `environments/dev.yaml` | 2:9 | target: 'moon' is not allowed" in summary


def test_main_valid_in_actions_writes_a_summary(example_repo: Path, in_actions: Path) -> None:
    assert main(["validate", "--repo", str(example_repo)]) == 0
    assert in_actions.read_text().startswith("### ✅ mlops validate\n\n2 models, 3 environments: all valid.")


@pytest.mark.parametrize("argv", [["validate", "--bogus"], ["no-such-verb"], ["validate", "--format", "xml"],
                                  ["--bogus"]])
def test_main_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert "usage: mlops" in capsys.readouterr().err


def test_main_missing_repo_directory_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--repo", str(tmp_path / "nope")]) == 2
    assert capsys.readouterr().err == f"mlops: error: --repo {tmp_path / 'nope'}: not a directory\n"


def test_main_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "validate" in capsys.readouterr().out
    assert main([]) == 0
    assert main(["validate", "--help"]) == 0
    assert "examples:" in capsys.readouterr().out

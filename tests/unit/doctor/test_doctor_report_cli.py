"""How findings are shown (terminal table, JSON, step summary) and the verb's usage errors (exit 2, one line)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops.cli import main
from mlops.doctor import DoctorReport, Finding

REPORT = DoctorReport("octo-org/models", "main", (
    Finding("ruleset", "ruleset on main", "ok", "requires mlops/gates", reads=("repos/get-branch-rules",)),
    Finding("codeowners", "CODEOWNERS coverage", "missing", "no owner for mlops/ | x", "add /mlops/ @team"),
    Finding("app-permissions", "App permissions", "unknown", "needs the App's key", "give --app-id"),
))


def test_exit_codes_and_counts() -> None:
    assert REPORT.exit_code() == 1 and REPORT.summary() == "1 missing, 1 unknown, 1 ok"
    only_unknown = DoctorReport("o/r", "main", (REPORT.findings[0], REPORT.findings[2]))
    assert only_unknown.exit_code() == 0 and only_unknown.exit_code(strict=True) == 1
    assert DoctorReport("o/r", "main", (REPORT.findings[0],)).exit_code(strict=True) == 0


def test_the_terminal_table_shows_the_fix_under_what_is_not_ok() -> None:
    lines = REPORT.text().splitlines()
    assert lines[0] == "mlops doctor: octo-org/models (default branch main)"
    assert lines[2].startswith("✓ ok       ruleset on main")
    assert lines[3].startswith("✗ missing  CODEOWNERS coverage") and lines[4].strip() == "fix: add /mlops/ @team"
    assert lines[5].startswith("? unknown") and lines[6].strip() == "how: give --app-id"
    assert lines[-1] == "1 missing, 1 unknown, 1 ok"


def test_json_and_markdown() -> None:
    data = json.loads(json.dumps(REPORT.to_dict()))
    assert data["ok"] is False and data["counts"] == {"ok": 1, "missing": 1, "unknown": 1}
    assert data["findings"][0] == {"check": "ruleset", "title": "ruleset on main", "status": "ok",
                                   "detail": "requires mlops/gates", "fix": "", "reads": ["repos/get-branch-rules"]}
    markdown = REPORT.markdown()
    assert "| ✗ missing | CODEOWNERS coverage | no owner for mlops/ \\| x | add /mlops/ @team |" in markdown


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GITHUB_TOKEN", "GH_TOKEN", "GITHUB_REPOSITORY", "GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY",
                 "MLOPS_APP_CLIENT_ID", "MLOPS_APP_PRIVATE_KEY", "GITHUB_API_URL"):
        monkeypatch.delenv(name, raising=False)


def usage_error(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["doctor", *args]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    return err


@pytest.mark.usefixtures("clean_env")
def test_a_missing_token_is_one_usage_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert "no GitHub token: set GITHUB_TOKEN or GH_TOKEN" in usage_error(capsys, "--repository", "o/r")


@pytest.mark.usefixtures("clean_env")
def test_repository_usage_errors(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                 tmp_path: Path) -> None:
    monkeypatch.setenv("GH_TOKEN", "ghp_secret-token")
    assert "no repository: give --repository" in usage_error(capsys)
    err = usage_error(capsys, "--repository", "not a repo")
    assert "is not OWNER/NAME" in err and "ghp_secret-token" not in err
    assert "needs the App's id" in usage_error(capsys, "--repository", "o/r", "--app-key-file", __file__)
    missing = tmp_path / "absent.pem"
    assert "cannot read it (FileNotFoundError)" in usage_error(capsys, "--repository", "o/r", "--app-id", "1",
                                                               "--app-key-file", str(missing))
    assert main(["doctor", "--no-such-option"]) == 2


def test_help_has_examples(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "--help"]) == 0
    out = capsys.readouterr().out
    assert "examples:" in out and "mlops doctor --repository" in out and "--json" in out

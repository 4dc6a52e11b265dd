"""The composite actions' shell steps, run with bash as the runner does, around a stand-in for the mlops verbs."""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path

import pytest
from workflow_harness import ROOT, ActionRunner

from tests.helpers.git import git


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    for env in ("dev", "staging", "prod"):
        (root / "environments").mkdir(parents=True, exist_ok=True)
        (root / "environments" / f"{env}.yaml").write_text(f"name: {env}\n", encoding="utf-8")
    (root / "models" / "alpha" / "versions").mkdir(parents=True)
    (root / "models" / "alpha" / "versions" / "20261101-aaaaaaaa.yaml").write_text("old\n", encoding="utf-8")
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    return root



# --- train -------------------------------------------------------------------------------------------------------

def test_train_hands_over_the_record_and_the_artifact_not_the_pointer(action_runner: ActionRunner,
                                                                      repo: Path) -> None:
    dest = action_runner.tmp / "trained"
    result = action_runner.run("train", "mlops train", {"model": "alpha", "repo": str(repo), "out-dir": str(dest),
                                                        "python": str(action_runner.fake_python)})
    assert result.code == 0, result.stderr
    assert result.calls[0] == f"-I -m mlops train alpha --repo {repo} --no-push --json @ {action_runner.tmp}"
    assert result.outputs == {"version": "20261201-0123abcd", "out-dir": str(dest)}
    copied = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file())
    assert copied == ["models/alpha/versions/20261201-0123abcd.yaml",
                      "models/alpha/versions/20261201-0123abcd/program.pt2"]


def test_train_gets_read_credentials_for_its_step_only(action_runner: ActionRunner, repo: Path) -> None:
    (repo / ".dvc").mkdir()
    result = action_runner.run("train", "mlops train", {"model": "alpha", "repo": str(repo),
                                                        "storage-config": "['remote \"r\"']\n    access_key_id = RO",
                                                        "python": str(action_runner.fake_python)})
    assert result.code == 0, result.stderr
    trained = json.loads((action_runner.tmp / "runner-temp" / "mlops-train-alpha.json").read_text())
    assert "access_key_id = RO" in trained["config_local"]
    assert not (repo / ".dvc" / "config.local").exists()


def test_train_failure_fails_the_step(action_runner: ActionRunner, repo: Path) -> None:
    result = action_runner.run("train", "mlops train", {"model": "alpha", "repo": str(repo),
                                                        "python": str(action_runner.fake_python)},
                               extra_env={"FAKE_TRAIN": "fail"})
    assert result.code == 1 and "version" not in result.outputs


def test_train_refuses_a_dirty_versions_directory(action_runner: ActionRunner, repo: Path) -> None:
    (repo / "models" / "alpha" / "versions" / "stray.yaml").write_text("x\n", encoding="utf-8")
    result = action_runner.run("train", "mlops train", {"model": "alpha", "repo": str(repo),
                                                        "python": str(action_runner.fake_python)})
    assert result.code == 1
    assert "has uncommitted changes before training" in result.stdout


# --- plan and accept ---------------------------------------------------------------------------------------------

def test_plan_passes_the_pr_and_then_validates_against_the_merge_base(action_runner: ActionRunner,
                                                                      repo: Path) -> None:
    result = action_runner.run("plan", "mlops plan", {"pr": "7", "repo": str(repo), "bot-login": "app[bot]",
                                                      "python": str(action_runner.fake_python)})
    assert result.code == 0, result.stderr
    verdicts = action_runner.tmp / "runner-temp" / "mlops-pin-verdicts"
    assert result.calls == [f"-I -m mlops plan --repo {repo} --verdicts-out {verdicts} --pr 7 @ {action_runner.tmp}"]
    assert result.outputs["base"] == "b" * 40
    no_pr = action_runner.run("plan", "mlops plan", {"pr": "0", "repo": str(repo),
                                                     "python": str(action_runner.fake_python)})
    assert "--pr" not in no_pr.calls[0]


@pytest.mark.parametrize(("mode", "inputs", "expected"), [
    ("store", {"storage-config": "secret_access_key = W"}, "--store"),
    ("commit", {"branch": "feature/x", "token": "ghs_app", "bot-login": "app[bot]"}, "--commit --branch feature/x"),
    ("place", {}, "--place"),
])
def test_accept_modes_hold_only_their_own_credential(action_runner: ActionRunner, repo: Path, mode: str,
                                                     inputs: dict[str, str], expected: str) -> None:
    (repo / ".dvc").mkdir(exist_ok=True)
    result = action_runner.run("accept", "mlops accept", {"mode": mode, "dir": "/tmp/trained", "head": "a" * 40,
                                                          "repo": str(repo), "python": str(action_runner.fake_python),
                                                          **inputs})
    assert result.code == 0, result.stderr
    assert result.calls == [f"-I -m mlops accept /tmp/trained --head {'a' * 40} --repo {repo} {expected} "
                            f"@ {action_runner.tmp}"]
    config, token = result.stdout.strip().split("; ")
    assert ("secret_access_key = W" in config) == (mode == "store")
    assert token == ("token: ghs_app" if mode == "commit" else "token:")
    assert not (repo / ".dvc" / "config.local").exists()


def test_accept_rejects_an_unknown_mode(action_runner: ActionRunner, repo: Path) -> None:
    result = action_runner.run("accept", "mlops accept", {"mode": "push", "dir": "d", "head": "h",
                                                          "python": str(action_runner.fake_python)})
    assert result.code == 2 and "unknown mode 'push'" in result.stdout


def test_train_input_with_shell_syntax_stays_a_plain_argument(action_runner: ActionRunner, repo: Path) -> None:
    hostile = "x$(touch pwned);`touch pwned2`"
    action_runner.run("train", "mlops train", {"model": hostile, "repo": str(repo),
                                               "python": str(action_runner.fake_python)})
    assert not (action_runner.tmp / "pwned").exists() and not (action_runner.tmp / "pwned2").exists()
    assert action_runner.log.read_text().startswith(f"-I -m mlops train {hostile} --repo")


# --- evaluate ----------------------------------------------------------------------------------------------------

def _evaluate(runner: ActionRunner, repo: Path, **env: str) -> tuple[int, str, dict[str, str], Path, list[str]]:
    out = runner.tmp / "verdicts"
    result = runner.run("evaluate", "mlops evaluate", {"model": "alpha", "repo": str(repo), "out-dir": str(out),
                                                       "python": str(runner.fake_python)}, extra_env=env)
    return result.code, result.stdout, result.outputs, out, result.calls


def test_evaluate_covers_every_environment(action_runner: ActionRunner, repo: Path) -> None:
    code, _, outputs, out, calls = _evaluate(action_runner, repo)
    assert code == 0
    assert outputs == {"out-dir": str(out), "passed": "true"}
    assert sorted(p.name for p in out.iterdir()) == ["alpha--dev.json", "alpha--prod.json", "alpha--staging.json"]
    assert calls[0] == f"-I -m mlops evaluate alpha --against dev --json-out {out}/alpha--dev.json @ {repo}"


def test_a_failed_gate_is_a_verdict_not_a_broken_step(action_runner: ActionRunner, repo: Path) -> None:
    code, stdout, outputs, out, _ = _evaluate(action_runner, repo, FAKE_FAIL_ENV="prod")
    assert code == 0
    assert outputs["passed"] == "false"
    assert json.loads((out / "alpha--prod.json").read_text())["passed"] is False
    assert "::warning title=mlops gates::alpha failed a gate against prod" in stdout


def test_an_evaluation_without_a_verdict_fails_the_step(action_runner: ActionRunner, repo: Path) -> None:
    code, stdout, outputs, _, _ = _evaluate(action_runner, repo, FAKE_CRASH_ENV="staging")
    assert code == 1
    assert "mlops evaluate alpha --against staging exited 1 without a verdict" in stdout
    assert outputs == {}


def test_evaluate_takes_an_explicit_environment_list(action_runner: ActionRunner, repo: Path) -> None:
    result = action_runner.run("evaluate", "mlops evaluate", {"model": "alpha", "repo": str(repo),
                                                              "environments": "prod",
                                                              "python": str(action_runner.fake_python)})
    assert result.code == 0
    assert [c.split(" --json-out")[0] for c in result.calls] == ["-I -m mlops evaluate alpha --against prod"]


# --- report ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("mode", "expected"), [
    ("comment", "-I -m mlops report --verdicts {v} --pr 7"),
    ("status", "-I -m mlops report --status --verdicts {v} --sha abc123"),
    ("fork-notice", "-I -m mlops report --fork-notice --pr 7 --workflow mlops.yml"),
])
def test_report_modes(action_runner: ActionRunner, repo: Path, mode: str, expected: str) -> None:
    verdicts = action_runner.tmp / "v"
    result = action_runner.run("report", "mlops report", {
        "mode": mode, "pr": "7", "sha": "abc123", "verdicts": str(verdicts), "token": "t0ken", "repo": str(repo),
        "python": str(action_runner.fake_python)})
    assert result.code == 0, result.stderr
    assert result.calls == [expected.format(v=verdicts) + f" @ {repo}"]


@pytest.mark.parametrize(("mode", "inputs", "expected"), [
    ("comment", {"base": "f00d"}, "-I -m mlops report --verdicts {v} --pr 7 --base f00d"),
    ("fork-notice", {"workflow": "ci.yml"}, "-I -m mlops report --fork-notice --pr 7 --workflow ci.yml"),
])
def test_report_optional_arguments(action_runner: ActionRunner, repo: Path, mode: str, inputs: dict[str, str],
                                   expected: str) -> None:
    verdicts = action_runner.tmp / "v"
    result = action_runner.run("report", "mlops report", {
        "mode": mode, "pr": "7", "verdicts": str(verdicts), "token": "t", "repo": str(repo),
        "python": str(action_runner.fake_python), **inputs})
    assert result.code == 0, result.stderr
    assert result.calls == [expected.format(v=verdicts) + f" @ {repo}"]


def test_report_status_after_a_failed_job(action_runner: ActionRunner, repo: Path) -> None:
    result = action_runner.run("report", "mlops report", {
        "mode": "status", "sha": "abc", "failure": "training failed (see the train jobs)", "repo": str(repo),
        "python": str(action_runner.fake_python)})
    assert result.code == 0, result.stderr
    verdicts = action_runner.tmp / "runner-temp" / "mlops-verdicts"
    assert result.calls == [f"-I -m mlops report --status --verdicts {verdicts} --sha abc --failure "
                            f"training failed (see the train jobs) @ {repo}"]


def test_report_rejects_an_unknown_mode(action_runner: ActionRunner, repo: Path) -> None:
    result = action_runner.run("report", "mlops report", {"mode": "post", "repo": str(repo), "token": "t",
                                                          "python": str(action_runner.fake_python)})
    assert result.code == 2
    assert "unknown mode 'post'" in result.stdout
    assert result.calls == []


def test_report_passes_the_token_as_github_token(action_runner: ActionRunner, repo: Path) -> None:
    spec = (ROOT / ".github" / "actions" / "report" / "action.yml").read_text(encoding="utf-8")
    assert "GITHUB_TOKEN: ${{ inputs.token }}" in spec
    assert "default: ${{ github.token }}" in spec


# --- validate ----------------------------------------------------------------------------------------------------

def test_validate_runs_on_the_repository(action_runner: ActionRunner, repo: Path) -> None:
    result = action_runner.run("validate", "mlops validate", {"repo": str(repo),
                                                              "python": str(action_runner.fake_python)})
    assert result.code == 0
    assert result.calls == [f"-I -m mlops validate --repo {repo} @ {action_runner.tmp}"]


def test_validate_with_a_base_refuses_changed_records(action_runner: ActionRunner, repo: Path) -> None:
    result = action_runner.run("validate", "mlops validate", {"repo": str(repo), "base": "abc123",
                                                              "python": str(action_runner.fake_python)})
    assert result.code == 0
    assert result.calls == [f"-I -m mlops validate --repo {repo} --base abc123 @ {action_runner.tmp}"]


def test_validate_failure_fails_the_step(action_runner: ActionRunner, repo: Path) -> None:
    result = action_runner.run("validate", "mlops validate", {"repo": str(repo),
                                                              "python": str(action_runner.fake_python)},
                               extra_env={"FAKE_RC": "1"})
    assert result.code == 1


def test_manifest_diff_goes_to_the_step_summary(action_runner: ActionRunner, repo: Path) -> None:
    step = "mlops diff (manifest changes to the step summary)"
    inputs = {"repo": str(repo), "base": "abc", "python": str(action_runner.fake_python)}
    result = action_runner.run("validate", step, inputs, extra_env={"FAKE_DIFF": "-replicas: 1\n+replicas: 2\n"})
    assert result.code == 0
    assert result.calls == [f"-I -m mlops diff --base abc @ {repo}"]
    assert "### Manifest changes against `abc`" in result.summary
    assert "```diff\n-replicas: 1\n+replicas: 2\n" in result.summary
    empty = action_runner.run("validate", step, inputs)
    assert "No rendered manifest changes." in empty.summary


def test_a_failing_diff_warns_without_failing_validation(action_runner: ActionRunner, repo: Path) -> None:
    step = "mlops diff (manifest changes to the step summary)"
    result = action_runner.run("validate", step, {"repo": str(repo), "base": "abc",
                                                  "python": str(action_runner.fake_python)},
                               extra_env={"FAKE_RC": "3"})
    assert result.code == 0
    assert "::warning title=mlops diff::mlops diff --base abc failed" in result.stdout
    assert result.summary == ""


# --- deploy ------------------------------------------------------------------------------------------------------

def test_deploy_builds_deploys_then_promotes_with_the_secrets_in_files_only(action_runner: ActionRunner,
                                                                            repo: Path) -> None:
    (repo / ".dvc").mkdir(exist_ok=True)
    result = action_runner.run("deploy", "mlops deploy", {
        "environment": "dev", "token": "ghs_app", "kubeconfig": "apiVersion: v1\nkind: Config", "repo": str(repo),
        "storage-config": "access_key_id = RO", "python": str(action_runner.fake_python)})
    assert result.code == 0, result.stderr
    deployed = action_runner.tmp / "runner-temp" / "mlops-deploy-dev.json"
    assert [c.split(" @ ")[0] for c in result.calls] == [
        f"-I -m mlops build-image --missing-in dev --push --repo {repo}",
        f"-I -m mlops deploy --env dev --json --repo {repo}",
        f"-I -m mlops promote --from-deploy {deployed} --repo {repo}"]
    assert json.loads(deployed.read_text())["kubeconfig"] == "apiVersion: v1\nkind: Config\n"
    assert not (repo / ".dvc" / "config.local").exists()
    assert not list((action_runner.tmp / "runner-temp").glob("mlops-secrets.*"))  # removed after the step
    assert result.outputs["result"] == str(deployed)


def test_a_failed_deploy_fails_the_step_and_promotes_nothing(action_runner: ActionRunner, repo: Path) -> None:
    result = action_runner.run("deploy", "mlops deploy", {"environment": "dev", "token": "t", "build": "false",
                                                          "repo": str(repo), "python": str(action_runner.fake_python)},
                               extra_env={"FAKE_DEPLOY_RC": "1"})
    assert result.code == 1 and "dev failed (rolled back where possible" in result.stdout
    assert [c.split(" ")[3] for c in result.calls] == ["deploy"]


# --- monitor -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("inputs", "args"), [
    ({"model": "alpha"}, "--env prod --out .mlops/monitor --repo {repo} --model alpha"),
    ({"dry-run": "true"}, "--env prod --out .mlops/monitor --repo {repo} --dry-run"),
])
def test_monitor_runs_the_verb_with_the_storage_credentials_for_its_step_only(
        action_runner: ActionRunner, repo: Path, inputs: dict[str, str], args: str) -> None:
    (repo / ".dvc").mkdir(exist_ok=True)
    result = action_runner.run("monitor", "mlops monitor", {
        "environment": "prod", "token": "ghs_app", "storage-config": "access_key_id = RW", "repo": str(repo),
        "python": str(action_runner.fake_python), **inputs}, extra_env={"AWS_ACCESS_KEY_ID": "AKIA_SINK"})
    assert result.code == 0, result.stderr
    assert [c.split(" @ ")[0] for c in result.calls] == [f"-I -m mlops monitor {args.format(repo=repo)}"]
    assert "config.local: access_key_id = RW\n; token: ghs_app; aws: AKIA_SINK" in result.stdout
    assert not (repo / ".dvc" / "config.local").exists() and result.outputs == {"out": ".mlops/monitor"}


def test_a_failed_monitor_fails_the_step_and_leaves_no_credentials(action_runner: ActionRunner, repo: Path) -> None:
    (repo / ".dvc").mkdir(exist_ok=True)
    result = action_runner.run("monitor", "mlops monitor", {
        "environment": "prod", "token": "t", "storage-config": "secret", "repo": str(repo),
        "python": str(action_runner.fake_python)}, extra_env={"FAKE_RC": "1"})
    assert result.code == 1 and not (repo / ".dvc" / "config.local").exists()


# --- setup -------------------------------------------------------------------------------------------------------

FAKE_SYSTEM_PYTHON = f"""#!{sys.executable}
import os, sys
from pathlib import Path
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write("system " + " ".join(sys.argv[1:]) + "\\n")
if sys.argv[1:3] == ["-m", "venv"]:
    bin_dir = Path(sys.argv[3]) / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").write_text(open(__file__).read().replace('"system "', '"venv "'))
    (bin_dir / "python").chmod(0o755)
"""


@pytest.mark.parametrize(("index", "package", "extra", "torch_cmd", "package_arg"), [
    ("https://download.pytorch.org/whl/cpu", "", "",
     "torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu", str(ROOT)),
    ("", "mlops-gitops==0.1.0", "", "torch==2.13.0", "mlops-gitops==0.1.0"),
    ("", "mlops-gitops==0.1.0", "s3fs gcsfs", "torch==2.13.0", "mlops-gitops==0.1.0 s3fs gcsfs"),
])
def test_setup_installs_torch_first_then_mlops_into_a_job_local_venv(
        action_runner: ActionRunner, index: str, package: str, extra: str, torch_cmd: str, package_arg: str) -> None:
    bin_dir = action_runner.tmp / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").write_text(FAKE_SYSTEM_PYTHON, encoding="utf-8")
    (bin_dir / "python").chmod(stat.S_IRWXU)
    inputs = {"torch": "torch==2.13.0", "torch-index-url": index, "package": package, "extra-requirements": extra}
    result = action_runner.run("setup", "Install torch, then mlops, into a job-local virtual environment", inputs,
                               extra_env={"PATH": f"{bin_dir}:/usr/bin:/bin"})
    assert result.code == 0, result.stderr
    venv = action_runner.tmp / "runner-temp" / "mlops-venv"
    pip = "venv -m pip install --disable-pip-version-check"
    assert result.calls == [f"system -m venv {venv}", f"{pip} {torch_cmd}", f"{pip} --no-compile {package_arg}",
                            "venv -I -m mlops --version"]
    assert result.outputs == {"python": str(venv / "bin" / "python")}

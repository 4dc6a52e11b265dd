"""The GitHub Actions side: zizmor finds nothing, the schemas accept every file, and the security rules hold.

zizmor and check-jsonschema run offline from the virtual environment. The structural tests read the YAML and
check the rules that keep fork code off the self-hosted runners and secrets away from PR code; the mutation tests
show each tool rejects a workflow that breaks them, so a green run means something.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
GITHUB = ROOT / ".github"
BIN = Path(sys.executable).parent
WORKFLOWS = sorted((GITHUB / "workflows").glob("*.yml"))
ACTIONS = sorted((GITHUB / "actions").glob("*/action.yml"))
SHA_PIN = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+(/[^@\s]+)?@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"#\s*v\d+(\.\d+)*\s*$")
SAME_REPO = "github.event.pull_request.head.repo.full_name == github.repository"
# The only jobs whose GITHUB_TOKEN may write, and what.
WRITE_ALLOWED = {
    ("mlops-pr.yml", "report"): {"pull-requests", "statuses"},
    ("mlops-pr.yml", "fork-notice"): {"pull-requests"},
    ("pr.yml", "mlops"): {"pull-requests", "statuses"},  # the call of mlops-pr.yml: the union of the two above
}


def _tool(name: str) -> str:
    path = BIN / name
    if not path.exists():
        pytest.skip(f"{name} is not installed in {BIN} (it comes with the package's test extras)")
    return str(path)


def _offline_env() -> dict[str, str]:
    """zizmor goes online when a token is set, even an empty one: remove them."""
    return {k: v for k, v in os.environ.items() if k not in {"GH_TOKEN", "GITHUB_TOKEN", "ZIZMOR_GITHUB_TOKEN"}}


def zizmor(target: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_tool("zizmor"), "--offline", "--no-progress", "--color", "never", str(target)],
                          cwd=target.parent, env=_offline_env(), capture_output=True, text=True, timeout=120)


def check_schema(schema: str, *files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_tool("check-jsonschema"), "--builtin-schema", schema, *map(str, files)],
                          capture_output=True, text=True, timeout=120)


def load(path: Path) -> dict[Any, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), path
    return data


def triggers(workflow: dict[Any, Any]) -> dict[str, Any]:
    on = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    if isinstance(on, dict):
        return on
    names = [on] if isinstance(on, str) else list(on or [])
    return {str(name): None for name in names}


def jobs(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    yield from load(path)["jobs"].items()


def all_steps() -> Iterator[tuple[str, dict[str, Any]]]:
    for wf in WORKFLOWS:
        for job_id, job in jobs(wf):
            for step in job.get("steps", []):
                yield f"{wf.name}:{job_id}", step
    for action in ACTIONS:
        for step in load(action)["runs"].get("steps", []):
            yield f"{action.parent.name}/action.yml", step


def flat(text: str) -> str:
    return " ".join(str(text).split())


def runs_on(job: dict[str, Any]) -> list[str]:
    value = job.get("runs-on", [])
    return [value] if isinstance(value, str) else list(value)


@pytest.fixture
def github_copy(tmp_path: Path) -> Path:
    """A copy of .github inside a git repository, to break on purpose."""
    repo = tmp_path / "repo"
    shutil.copytree(GITHUB, repo / ".github", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    return repo / ".github"


# --- zizmor ------------------------------------------------------------------------------------------------------

def test_zizmor_reports_no_findings() -> None:
    proc = zizmor(GITHUB)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "No findings" in output


def test_zizmor_rejects_a_deliberately_bad_workflow(tmp_path: Path) -> None:
    bad = tmp_path / "repo" / ".github" / "workflows"
    bad.mkdir(parents=True)
    (bad / "bad.yml").write_text("""name: bad
on: pull_request_target
permissions: write-all
jobs:
  bad:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          ref: ${{ github.event.pull_request.head.sha }}
      - uses: some-org/some-action@v1
      - run: echo "${{ github.event.pull_request.title }}"
""", encoding="utf-8")
    proc = zizmor(bad.parent)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    for audit in ("dangerous-triggers", "template-injection", "artipacked", "unpinned-uses"):
        assert f"[{audit}]" in output, f"zizmor missed {audit}:\n{output}"


def test_zizmor_catches_an_injection_planted_in_our_own_workflow(github_copy: Path) -> None:
    workflow = github_copy / "workflows" / "mlops-pr.yml"
    text = workflow.read_text(encoding="utf-8")
    planted = text.replace('actual="$(git rev-parse HEAD)"',
                           'actual="$(git rev-parse HEAD)" # ${{ github.event.pull_request.head.ref }}', 1)
    assert planted != text
    workflow.write_text(planted, encoding="utf-8")
    proc = zizmor(github_copy)
    assert proc.returncode != 0
    assert "[template-injection]" in proc.stdout + proc.stderr


# --- schemas -----------------------------------------------------------------------------------------------------

def test_there_is_something_to_check() -> None:
    assert {p.name for p in WORKFLOWS} >= {"pr.yml", "mlops-pr.yml"}
    assert {p.parent.name for p in ACTIONS} >= {"setup", "validate", "train", "evaluate", "report"}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_matches_the_github_workflow_schema(path: Path) -> None:
    proc = check_schema("vendor.github-workflows", path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("path", ACTIONS, ids=lambda p: p.parent.name)
def test_action_matches_the_github_action_schema(path: Path) -> None:
    proc = check_schema("vendor.github-actions", path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_schemas_reject_broken_files(github_copy: Path) -> None:
    workflow = github_copy / "workflows" / "pr.yml"
    workflow.write_text(workflow.read_text(encoding="utf-8").replace("cancel-in-progress: true",
                                                                     "cancel-in-progress: sometimes"))
    assert check_schema("vendor.github-workflows", workflow).returncode != 0
    action = github_copy / "actions" / "train" / "action.yml"
    action.write_text(action.read_text(encoding="utf-8").replace("using: composite", "using: compost"))
    assert check_schema("vendor.github-actions", action).returncode != 0


# --- the rules, read from the YAML -------------------------------------------------------------------------------

def test_every_workflow_starts_with_no_permissions_and_every_job_declares_its_own() -> None:
    for wf in WORKFLOWS:
        assert load(wf).get("permissions") == {}, wf.name
        for job_id, job in jobs(wf):
            perms = job.get("permissions")
            assert isinstance(perms, dict), f"{wf.name}:{job_id} must declare its permissions as a mapping"
            writes = {scope for scope, level in perms.items() if level == "write"}
            assert writes <= WRITE_ALLOWED.get((wf.name, job_id), set()), f"{wf.name}:{job_id} writes {writes}"
            assert set(perms.values()) <= {"read", "write", "none"}, f"{wf.name}:{job_id}"


def test_no_dangerous_trigger_anywhere() -> None:
    for wf in WORKFLOWS:
        assert not {"pull_request_target", "workflow_run"} & set(triggers(load(wf))), wf.name


def test_remote_actions_are_pinned_by_full_commit_sha_with_the_version_in_a_comment() -> None:
    for where, step in all_steps():
        uses = step.get("uses")
        if uses is None or uses.startswith("$/"):
            continue
        assert SHA_PIN.match(uses), f"{where}: {uses} is not pinned by a 40-hex commit SHA"
    for path in [*WORKFLOWS, *ACTIONS]:
        for line in path.read_text(encoding="utf-8").splitlines():
            if re.match(r"\s*(-\s+)?uses:\s*[^$\s]", line):
                assert VERSION_COMMENT.search(line), f"{path.name}: no '# vX.Y.Z' comment on: {line.strip()}"


def test_local_actions_and_workflows_use_the_self_repository_form_and_exist() -> None:
    targets = [(w, s["uses"]) for w, s in all_steps() if "uses" in s]
    targets += [(f"{wf.name}:{j}", job["uses"]) for wf in WORKFLOWS for j, job in jobs(wf) if "uses" in job]
    local = [(where, uses) for where, uses in targets if "@" not in uses]
    assert local, "expected local actions"
    for where, uses in local:
        assert uses.startswith("$/.github/"), f"{where}: {uses} (use $/… so the action comes from this commit)"
        assert (ROOT / uses[2:]).exists() or (ROOT / uses[2:] / "action.yml").exists(), f"{where}: {uses}"


def test_every_checkout_drops_its_credentials() -> None:
    checkouts = [(w, s) for w, s in all_steps() if str(s.get("uses", "")).startswith("actions/checkout@")]
    assert checkouts
    for where, step in checkouts:
        assert (step.get("with") or {}).get("persist-credentials") is False, where


def test_no_expression_is_expanded_inside_a_shell_script() -> None:
    for where, step in all_steps():
        if "run" in step:
            assert "${{" not in step["run"], f"{where}: pass values through env:, not ${{{{ }}}} in run:"


def test_composite_actions_take_inputs_through_env_and_use_every_input() -> None:
    for path in ACTIONS:
        action = load(path)
        assert action["runs"]["using"] == "composite", path
        text = path.read_text(encoding="utf-8")
        for name in action.get("inputs", {}):
            assert f"inputs.{name} " in text or f"inputs.{name} }}}}" in text, f"{path}: input {name} unused"
        for step in action["runs"]["steps"]:
            if "run" in step:
                assert step.get("shell") == "bash", path
                for key, value in (step.get("env") or {}).items():
                    assert re.fullmatch(r"\$\{\{ (inputs|steps)\.[\w.-]+ \}\}", str(value)), f"{path}: {key}"


def test_the_pr_workflow_triggers_and_concurrency() -> None:
    pr = load(GITHUB / "workflows" / "pr.yml")
    on = triggers(pr)
    assert set(on) == {"pull_request", "workflow_dispatch"}
    assert set(on["workflow_dispatch"]["inputs"]) == {"pr", "sha"}
    assert "github.event.pull_request.number" in pr["concurrency"]["group"]
    assert "inputs.pr" in pr["concurrency"]["group"]
    assert pr["concurrency"]["cancel-in-progress"] is True
    call = pr["jobs"]["mlops"]
    assert call["uses"] == "$/.github/workflows/mlops-pr.yml"
    assert "secrets" in call and call["secrets"] != "inherit"
    reusable = triggers(load(GITHUB / "workflows" / "mlops-pr.yml"))
    assert set(reusable) == {"workflow_call"}
    assert set(call["with"]) <= set(reusable["workflow_call"]["inputs"])


def test_train_runs_on_self_hosted_gpu_only_for_same_repository_prs_or_a_dispatch() -> None:
    job = load(GITHUB / "workflows" / "mlops-pr.yml")["jobs"]["train"]
    assert runs_on(job) == ["self-hosted", "gpu"]
    assert job["needs"] == "validate"
    assert job["strategy"]["matrix"]["model"] == "${{ fromJSON(needs.validate.outputs.train) }}"
    assert isinstance(job["timeout-minutes"], int)
    condition = flat(job["if"])
    assert f"(github.event_name == 'pull_request' && {SAME_REPO})" in condition
    assert "|| github.event_name == 'workflow_dispatch')" in condition


def test_self_hosted_jobs_are_gated_pinned_to_the_reviewed_commit_and_see_no_secret() -> None:
    self_hosted = [(wf, j, job) for wf in WORKFLOWS for j, job in jobs(wf) if "self-hosted" in runs_on(job)]
    assert {j for _, j, _ in self_hosted} == {"train", "evaluate"}
    for wf, job_id, job in self_hosted:
        where = f"{wf.name}:{job_id}"
        condition = flat(job["if"])
        assert f"(github.event_name == 'pull_request' && {SAME_REPO}" in condition, where
        assert "github.event_name == 'workflow_dispatch'" in condition, where
        assert "secrets." not in yaml.safe_dump(job), where
        steps = job["steps"]
        assert steps[0]["uses"].startswith("actions/checkout@"), where
        assert steps[0]["with"]["ref"] == "refs/pull/${{ inputs.pr }}/head", where
        assert steps[1]["name"] == "Refuse a commit other than the one requested", where
        assert steps[1]["env"] == {"EXPECTED": "${{ inputs.head-sha }}"}, where


def test_secrets_reach_only_the_record_job_which_runs_no_pr_code() -> None:
    reusable = GITHUB / "workflows" / "mlops-pr.yml"
    users = [j for j, job in jobs(reusable) if "secrets." in yaml.safe_dump(job)]
    assert users == ["record"]
    record = load(reusable)["jobs"]["record"]
    assert "self-hosted" not in runs_on(record)
    assert record["permissions"] == {}
    assert not [s for s in record["steps"] if str(s.get("uses", "")).startswith("$/")]
    token = next(s for s in record["steps"] if str(s.get("uses", "")).startswith("actions/create-github-app-token@"))
    assert {k for k in token["with"] if k.startswith("permission-")} == {"permission-contents"}
    assert flat(record["if"]).endswith(SAME_REPO)
    text = reusable.read_text(encoding="utf-8")
    assert "a push made with GITHUB_TOKEN starts no workflow run" in flat(text.replace("#", ""))


def test_a_fork_pr_gets_the_notice_and_no_pr_code_touches_a_write_token_on_self_hosted() -> None:
    job = load(GITHUB / "workflows" / "mlops-pr.yml")["jobs"]["fork-notice"]
    assert flat(job["if"]) == (
        "github.event_name == 'pull_request' && github.event.pull_request.head.repo.full_name != github.repository")
    assert runs_on(job) == ["ubuntu-latest"]
    report = next(s for s in job["steps"] if s.get("uses") == "$/.github/actions/report")
    assert report["with"]["mode"] == "fork-notice"


def test_every_job_has_a_timeout() -> None:
    for wf in WORKFLOWS:
        for job_id, job in jobs(wf):
            if "uses" not in job:  # a job that calls a reusable workflow cannot set one
                assert "timeout-minutes" in job, f"{wf.name}:{job_id}"

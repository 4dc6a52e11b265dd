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
# The only jobs whose GITHUB_TOKEN may write, and what.
WRITE_ALLOWED = {
    ("mlops-pr.yml", "report"): {"pull-requests", "statuses"},
    ("mlops-pr.yml", "fork-notice"): {"pull-requests"},
    ("mlops.yml", "mlops"): {"pull-requests", "statuses"},  # the call of mlops-pr.yml: the union of the two above
}
# Triggers whose runs execute the default branch's definition of the workflow (a PR cannot edit what runs).
TRUSTED_TRIGGERS = {"workflow_run", "workflow_dispatch", "schedule", "push", "workflow_call"}


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
                           'actual="$(git rev-parse HEAD)" # ${{ github.event.workflow_run.head_branch }}', 1)
    assert planted != text
    workflow.write_text(planted, encoding="utf-8")
    proc = zizmor(github_copy)
    assert proc.returncode != 0
    assert "[template-injection]" in proc.stdout + proc.stderr


def test_zizmor_auditor_persona_reports_no_findings_and_every_suppression_says_why() -> None:
    proc = subprocess.run([_tool("zizmor"), "--offline", "--no-progress", "--color", "never", "--persona=auditor",
                           str(GITHUB)], cwd=ROOT, env=_offline_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "No findings" in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    ignores = [(path.name, line) for path in [*WORKFLOWS, *ACTIONS] for line in path.read_text("utf-8").splitlines()
               if "zizmor: ignore[" in line]
    assert ignores, "expected the reviewed exceptions (workflow_run, self-hosted runners) to be marked"
    for name, line in ignores:
        reason = line.split("zizmor: ignore[", 1)[1].split("]", 1)[1].strip()
        assert len(reason.split()) >= 5, f"{name}: a suppression without a reason: {line.strip()}"


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


def test_no_pull_request_target_and_workflow_run_only_for_the_trusted_loop() -> None:
    for wf in WORKFLOWS:
        on = set(triggers(load(wf)))
        assert "pull_request_target" not in on, wf.name
        if "workflow_run" in on:
            assert wf.name == "mlops.yml" and on == {"workflow_run", "workflow_dispatch"}, wf.name


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


def privileged_violations(github: Path) -> list[str]:
    """Jobs that hold a secret or reach a self-hosted runner, in a run a pull request's own files define."""
    workflows = {p.name: load(p) for p in sorted((github / "workflows").glob("*.yml"))}

    def privileged(name: str, seen: frozenset[str] = frozenset()) -> list[str]:
        found = []
        for job_id, job in workflows[name]["jobs"].items():
            if "uses" in job:
                target = str(job["uses"]).removeprefix("$/.github/workflows/")
                if target in workflows and target not in seen:
                    found += [f"{job_id} → {why}" for why in privileged(target, seen | {name})]
                if "secrets" in job:
                    found.append(f"{job_id} passes secrets")
                continue
            if "self-hosted" in runs_on(job):
                found.append(f"{job_id} runs on self-hosted runners")
            if "secrets." in yaml.safe_dump(job):
                found.append(f"{job_id} uses a secret")
        return found

    violations = []
    for name, workflow in workflows.items():
        untrusted = set(triggers(workflow)) - TRUSTED_TRIGGERS
        push = triggers(workflow).get("push")
        if push is not None and (not isinstance(push, dict) or push.get("branches") != ["main"]):
            untrusted.add("push (to branches other than main)")
        if untrusted:
            violations += [f"{name} ({', '.join(sorted(untrusted))}): {why}" for why in privileged(name)]
    return violations


def test_secrets_and_self_hosted_runners_only_in_runs_the_default_branch_defines() -> None:
    assert privileged_violations(GITHUB) == []


def test_the_rule_catches_the_old_design_a_pull_request_run_calling_the_loop(github_copy: Path) -> None:
    (github_copy / "workflows" / "pr.yml").write_text("""name: pr
on: pull_request
permissions: {}
jobs:
  mlops:
    uses: $/.github/workflows/mlops-pr.yml
    permissions: {contents: read}
    with: {head-sha: x}
    secrets:
      MLOPS_APP_PRIVATE_KEY: ${{ secrets.MLOPS_APP_PRIVATE_KEY }}
""", encoding="utf-8")
    found = privileged_violations(github_copy)
    assert "pr.yml (pull_request): mlops → train runs on self-hosted runners" in found
    assert "pr.yml (pull_request): mlops passes secrets" in found


def test_the_pr_workflow_validates_with_a_read_only_token_and_nothing_else() -> None:
    pr = load(GITHUB / "workflows" / "pr.yml")
    assert set(triggers(pr)) == {"pull_request", "pull_request_review"}  # a review re-judges the status
    assert triggers(pr)["pull_request_review"] == {"types": ["submitted"]}
    assert pr["concurrency"]["cancel-in-progress"] is True
    for job_id, job in pr["jobs"].items():
        assert job["permissions"] == {"contents": "read"}, job_id
        assert "uses" not in job and "self-hosted" not in runs_on(job), job_id


def test_the_trusted_loop_is_called_with_explicit_secrets_and_its_inputs() -> None:
    caller = load(GITHUB / "workflows" / "mlops.yml")
    assert set(triggers(caller)) == {"workflow_run", "workflow_dispatch"}
    assert triggers(caller)["workflow_run"] == {"workflows": ["pr"], "types": ["completed"]}
    assert set(triggers(caller)["workflow_dispatch"]["inputs"]) == {"pr", "sha"}
    call = caller["jobs"]["mlops"]
    assert call["uses"] == "$/.github/workflows/mlops-pr.yml" and call["secrets"] != "inherit"
    reusable = triggers(load(GITHUB / "workflows" / "mlops-pr.yml"))
    assert set(reusable) == {"workflow_call"}
    assert set(call["with"]) <= set(reusable["workflow_call"]["inputs"])
    assert set(call["secrets"]) == set(reusable["workflow_call"]["secrets"])


def _steps_using(job: dict[str, Any], needle: str) -> list[str]:
    return [str(s.get("name")) for s in job["steps"] if needle in yaml.safe_dump(s)]


def test_each_secret_reaches_only_the_step_that_needs_it() -> None:
    loop = load(GITHUB / "workflows" / "mlops-pr.yml")["jobs"]
    record = loop["record"]
    assert record["environment"] == "mlops-bot" and "self-hosted" not in runs_on(record)
    assert _steps_using(record, "secrets.MLOPS_APP_PRIVATE_KEY") == ["Create a GitHub App token"]
    assert _steps_using(record, "secrets.MLOPS_STORAGE_WRITE") == [
        "Verify it and store the artifacts (storage credentials only)"]
    assert _steps_using(record, "steps.app.outputs.token") == [
        "Commit the records on the PR branch as the App (its token only)"]
    token = next(s for s in record["steps"] if str(s.get("uses", "")).startswith("actions/create-github-app-token@"))
    assert {k for k in token["with"] if k.startswith("permission-")} == {"permission-contents"}
    for job_id, job in loop.items():
        assert "secrets." not in yaml.safe_dump(job.get("env") or {}), job_id
        if job_id != "record":
            assert "MLOPS_APP_PRIVATE_KEY" not in yaml.safe_dump(job) and "MLOPS_STORAGE_WRITE" not in \
                yaml.safe_dump(job), job_id
    assert _steps_using(loop["train"], "secrets.") == ["Train (no write credential; the artifact stays in the local "
                                                       "DVC cache)"]
    assert _steps_using(loop["evaluate"], "secrets.") == ["Evaluate against every environment"]


def test_self_hosted_jobs_are_gated_and_pinned_to_the_requested_commit() -> None:
    loop = load(GITHUB / "workflows" / "mlops-pr.yml")["jobs"]
    self_hosted = {j for j, job in loop.items() if "self-hosted" in runs_on(job)}
    assert self_hosted == {"train", "evaluate"}
    assert "(needs.plan.outputs.same-repo == 'true' || inputs.dispatched)" in flat(loop["train"]["if"])
    assert "inputs.dispatched && needs.plan.outputs.same-repo == 'false'" in flat(loop["evaluate"]["if"])
    for job_id in self_hosted:
        steps = loop[job_id]["steps"]
        assert steps[0]["with"]["ref"] == "${{ inputs.head-sha }}", job_id
        assert steps[1]["name"] == "Refuse a commit other than the one requested", job_id
        assert steps[1]["env"] == {"EXPECTED": "${{ inputs.head-sha }}"}, job_id
    uploads = [s["with"]["name"] for s in loop["train"]["steps"] if "upload-artifact" in str(s.get("uses"))]
    assert uploads == ["trained-${{ matrix.model }}"]


def test_jobs_that_run_dvc_on_pr_files_take_the_remote_from_the_base_branch() -> None:
    loop = load(GITHUB / "workflows" / "mlops-pr.yml")["jobs"]
    for job_id in ("train", "record", "evaluate"):
        names = [s.get("name", "") for s in loop[job_id]["steps"]]
        use_base = next(i for i, n in enumerate(names) if n.startswith("Use the base branch's DVC remote"))
        setup = next(i for i, n in enumerate(names) if n.startswith("Set up mlops"))
        assert use_base < setup, job_id
        step = loop[job_id]["steps"][use_base]
        assert step["run"].strip() == 'git show "$BASE:.dvc/config" > .dvc/config', job_id


def test_downloaded_artifacts_land_outside_the_checkout() -> None:
    downloads = [(w, s) for w, s in all_steps() if "download-artifact" in str(s.get("uses"))]
    assert downloads
    for where, step in downloads:
        assert str(step["with"]["path"]).startswith("${{ runner.temp }}/"), where


def test_every_action_runs_the_framework_isolated_from_the_checkout() -> None:
    for path in ACTIONS:
        for step in load(path)["runs"]["steps"]:
            script = step.get("run", "")
            for call in re.findall(r"(\S+) -m mlops", script):
                assert call == "-I", f"{path.parent.name}: the framework must run as `python -I -m mlops …`"
    assert re.findall(r"(\S+) -m mlops", "x -m mlops") == ["x"]  # the rule would see a call without -I


def test_a_fork_gets_the_notice_unless_a_maintainer_dispatched_the_run() -> None:
    job = load(GITHUB / "workflows" / "mlops-pr.yml")["jobs"]["fork-notice"]
    assert flat(job["if"]) == "needs.plan.outputs.same-repo == 'false' && !inputs.dispatched"
    report = next(s for s in job["steps"] if s.get("uses") == "$/.github/actions/report")
    assert report["with"]["mode"] == "fork-notice"


def test_every_job_has_a_timeout() -> None:
    for wf in WORKFLOWS:
        for job_id, job in jobs(wf):
            if "uses" not in job:  # a job that calls a reusable workflow cannot set one
                assert "timeout-minutes" in job, f"{wf.name}:{job_id}"


def test_deploys_run_from_the_default_branch_one_environment_at_a_time_in_its_github_environment() -> None:
    caller = load(GITHUB / "workflows" / "deploy.yml")
    on = triggers(caller)
    assert set(on) == {"push", "workflow_dispatch"} and on["push"] == {"branches": ["main"]}
    matrix = caller["jobs"]["deploy"]
    assert matrix["uses"] == "$/.github/workflows/mlops-deploy.yml"
    assert matrix["strategy"]["max-parallel"] == 1 and matrix["permissions"] == {"contents": "read"}
    job = load(GITHUB / "workflows" / "mlops-deploy.yml")["jobs"]["deploy"]
    assert job["environment"] == "${{ inputs.environment }}"
    assert job["concurrency"] == {"group": "mlops-deploy-${{ inputs.environment }}", "cancel-in-progress": False}
    assert _steps_using(job, "secrets.MLOPS_APP_PRIVATE_KEY") == ["Create a GitHub App token"]
    assert _steps_using(job, "secrets.MLOPS_KUBECONFIG") == ["Deploy, smoke-test, and promote"]



def test_the_monitor_runs_on_schedule_one_due_pair_per_job_with_the_key_only_where_it_writes() -> None:
    caller = load(GITHUB / "workflows" / "monitor.yml")
    on = triggers(caller)
    assert set(on) == {"schedule", "workflow_dispatch"}
    due = caller["jobs"]["due"]
    assert due["permissions"] == {"contents": "read"} and "secrets." not in yaml.safe_dump(due)
    assert "mlops monitor --due" in yaml.safe_dump(due)
    matrix = caller["jobs"]["monitor"]
    assert matrix["uses"] == "$/.github/workflows/mlops-monitor.yml" and matrix["permissions"] == {"contents": "read"}
    assert matrix["strategy"]["matrix"] == {"include": "${{ fromJSON(needs.due.outputs.pairs) }}"}
    assert matrix["strategy"]["fail-fast"] is False
    reusable = load(GITHUB / "workflows" / "mlops-monitor.yml")
    assert set(triggers(reusable)) == {"workflow_call"}
    job = reusable["jobs"]["monitor"]
    assert job["environment"] == "mlops-monitor" and job["permissions"] == {"contents": "read"}
    assert job["concurrency"] == {"group": "mlops-monitor-${{ inputs.environment }}-${{ inputs.model }}",
                                  "cancel-in-progress": False}
    assert _steps_using(job, "secrets.MLOPS_APP_PRIVATE_KEY") == ["Create a GitHub App token"]
    assert _steps_using(job, "secrets.MLOPS_STORAGE_WRITE") == ["Monitor"]
    assert _steps_using(job, "steps.app.outputs.token") == ["Monitor"]
    token = next(s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/create-github-app-token@"))
    assert {k for k in token["with"] if k.startswith("permission-")} == {
        "permission-contents", "permission-pull-requests", "permission-issues"}

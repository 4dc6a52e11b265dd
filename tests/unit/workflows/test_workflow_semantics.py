"""The workflows as GitHub reads them: its parser accepts them, and its expression evaluator decides which jobs run.

GitHub's workflow parser (npm @actions/workflow-parser) parses every workflow and follows the call of the reusable
workflow, checking the inputs and secrets passed against the ones declared. Then each job's `if:` is evaluated by
the npm package @actions/expressions (the evaluator of GitHub's language services) in the contexts a real run would
have, job after job, with the runner's rules: an `if:` without a status function means `success() && (…)`,
`success()` is false once a needed job failed or was skipped, and a job that does not run has the result `skipped`.
The scenarios are the trust model: fork code never reaches a self-hosted job unless a maintainer dispatched the
run, a run that commits records stops (the commit starts the run that reports), every other run ends in the
`mlops/gates` status — a failure ends in a failure status, and the status is set even when the comment fails.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
REUSABLE = ROOT / ".github" / "workflows" / "mlops-pr.yml"
NODE_DIR = Path(__file__).resolve().parent / "node"
NODE_MODULES = NODE_DIR / "node_modules"
EXPRESSIONS = NODE_MODULES / "@actions" / "expressions"
PARSER = NODE_MODULES / "@actions" / "workflow-parser"
HELPER = Path(__file__).with_name("gha_expressions.mjs")
PARSE_HELPER = Path(__file__).with_name("gha_workflow_parser.mjs")
NPM_INSTALL = "npm ci --prefix tests/unit/workflows/node"
STATUS_CALL = re.compile(r"\b(success|failure|cancelled|always)\(\s*\)")
REPO = "acme/models"


def _evaluator_missing() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed (the workflow-condition tests run GitHub's expression evaluator on node)"
    if not (EXPRESSIONS / "dist" / "index.js").exists() or not (PARSER / "dist" / "index.js").exists():
        return f"GitHub's workflow parser and expression evaluator are not under {NODE_MODULES}: {NPM_INSTALL}"
    return None


pytestmark = pytest.mark.skipif(_evaluator_missing() is not None, reason=_evaluator_missing() or "")


def evaluate(cases: list[dict[str, Any]]) -> list[bool]:
    proc = subprocess.run(["node", str(HELPER)], input=json.dumps({"package": str(EXPRESSIONS), "cases": cases}),
                          capture_output=True, text=True, timeout=60, check=True)
    result = json.loads(proc.stdout)
    assert isinstance(result, list)
    return [bool(r) for r in result]


def parse(root: Path, *files: Path) -> dict[str, list[str]]:
    proc = subprocess.run(["node", str(PARSE_HELPER)], capture_output=True, text=True, timeout=60, check=True,
                          input=json.dumps({"package": str(NODE_MODULES), "root": str(root),
                                            "files": [str(f) for f in files]}))
    result = json.loads(proc.stdout)
    assert isinstance(result, dict)
    return {Path(k).name: v for k, v in result.items()}


def test_githubs_parser_accepts_every_workflow_and_the_reusable_call() -> None:
    workflows = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
    assert parse(ROOT, *workflows) == {w.name: [] for w in workflows}


def test_githubs_parser_rejects_a_call_that_does_not_match_the_reusable_workflow(tmp_path: Path) -> None:
    shutil.copytree(ROOT / ".github", tmp_path / ".github")
    caller = tmp_path / ".github" / "workflows" / "mlops.yml"
    text = caller.read_text(encoding="utf-8")
    old = "github.event.workflow_run.head_sha || inputs.sha }}\n"
    planted = text.replace(f"      head-sha: ${{{{ github.event_name == 'workflow_run' && {old}",
                           "      heads-sha: ${{ inputs.sha }}\n")
    assert planted != text
    caller.write_text(planted, encoding="utf-8")
    errors = parse(tmp_path, caller)["mlops.yml"]
    assert any("Input head-sha is required, but not provided while calling" in e for e in errors), errors
    assert any("heads-sha is not defined in the referenced workflow" in e for e in errors), errors


def test_githubs_parser_rejects_a_job_that_needs_a_missing_job(tmp_path: Path) -> None:
    shutil.copytree(ROOT / ".github", tmp_path / ".github")
    reusable = tmp_path / ".github" / "workflows" / "mlops-pr.yml"
    reusable.write_text(reusable.read_text(encoding="utf-8").replace("needs: [plan, train, record, evaluate]",
                                                                     "needs: [plan, training, record, evaluate]"))
    assert parse(tmp_path, reusable)["mlops-pr.yml"]


@dataclass
class Scenario:
    """One run of mlops.yml → mlops-pr.yml: how it started and what the plan found."""

    dispatched: bool = False
    fork: bool = False
    changed: list[str] = field(default_factory=list)
    train: list[str] = field(default_factory=list)
    verdicts: int = 0  # verdicts on pins and rules
    outcome: dict[str, str] = field(default_factory=dict)  # job → result when it runs (default success)

    def github(self) -> dict[str, Any]:
        return {"event_name": "workflow_dispatch" if self.dispatched else "workflow_run", "repository": REPO}


def simulate(scenario: Scenario) -> dict[str, str]:
    """Run the job graph: each job's result (success, failure or skipped)."""
    jobs: dict[str, Any] = yaml.safe_load(REUSABLE.read_text(encoding="utf-8"))["jobs"]
    results: dict[str, str] = {}
    pending = dict(jobs)
    while pending:
        ready = [j for j, job in pending.items() if all(n in results for n in _needs(job))]
        assert ready, f"cycle in needs: {sorted(pending)}"
        cases = []
        for job_id in ready:
            job = pending.pop(job_id)
            needs = _needs(job)
            cases.append(_case(str(job.get("if", "success()")), scenario, needs, results))
        for job_id, runs in zip(ready, evaluate(cases), strict=True):
            results[job_id] = scenario.outcome.get(job_id, "success") if runs else "skipped"
    return results


def _case(expr: str, scenario: Scenario, needs: list[str], results: dict[str, str],
          job_status: str = "success") -> dict[str, Any]:
    expr = expr.strip().removeprefix("${{").removesuffix("}}").strip()
    if not STATUS_CALL.search(expr):
        expr = f"success() && ({expr})"
    context = {
        "github": scenario.github(),
        "inputs": {"head-sha": "a" * 40, "pr": 7 if scenario.dispatched else 0, "dispatched": scenario.dispatched},
        "needs": {n: {"result": results[n], "outputs": _outputs(n, results[n], scenario)} for n in needs},
    }
    if job_status != "success":  # inside a job: success() and failure() follow the steps so far
        status = {"success": False, "failure": True, "cancelled": False}
    else:
        status = {"success": all(results[n] == "success" for n in needs),
                  "failure": any(results[n] == "failure" for n in needs), "cancelled": False}
    return {"expr": expr, "context": context, "status": status}


def _needs(job: dict[str, Any]) -> list[str]:
    needs = job.get("needs", [])
    return [needs] if isinstance(needs, str) else list(needs)


def _outputs(job: str, result: str, scenario: Scenario) -> dict[str, str]:
    if job == "plan" and result == "success":
        return {"changed": json.dumps(scenario.changed), "train": json.dumps(scenario.train),
                "verdicts": str(scenario.verdicts), "same-repo": "false" if scenario.fork else "true", "pr": "7"}
    return {}


def ran(results: dict[str, str]) -> set[str]:
    return {job for job, result in results.items() if result != "skipped"}


SELF_HOSTED = {"train", "evaluate"}


def test_the_evaluator_is_the_real_thing() -> None:
    assert evaluate([
        {"expr": "github.event_name == 'pull_request' && !cancelled()", "status": {"cancelled": False},
         "context": {"github": {"event_name": "pull_request"}}},
        {"expr": "fromJSON('[]') == '[]' || format('{0}', 1) == '2'", "status": {}, "context": {}},
        {"expr": "github.event.pull_request.head.repo.full_name == github.repository", "status": {},
         "context": {"github": {"event": {}, "repository": REPO}}},
    ]) == [True, False, False]


def test_a_same_repo_pr_that_needs_training_trains_commits_and_stops() -> None:
    assert ran(simulate(Scenario(changed=["digits-cnn"], train=["digits-cnn"]))) == {"plan", "train", "record"}


def test_the_run_started_by_the_bots_commit_evaluates_and_reports() -> None:
    assert ran(simulate(Scenario(changed=["digits-cnn"]))) == {"plan", "evaluate", "report"}


@pytest.mark.parametrize("verdicts", [0, 2])
def test_a_pr_without_model_changes_still_gets_the_status(verdicts: int) -> None:
    assert ran(simulate(Scenario(verdicts=verdicts))) == {"plan", "report"}


@pytest.mark.parametrize("changed", [[], ["digits-cnn"]])
def test_a_fork_pr_gets_the_notice_and_nothing_on_self_hosted_runners(changed: list[str]) -> None:
    results = simulate(Scenario(fork=True, changed=changed, train=changed))
    assert ran(results) == {"plan", "fork-notice"}
    assert not ran(results) & (SELF_HOSTED | {"record", "report"})


def test_a_maintainers_dispatch_for_a_fork_trains_stores_evaluates_and_reports_without_committing() -> None:
    results = simulate(Scenario(dispatched=True, fork=True, changed=["cancer-mlp"], train=["cancer-mlp"]))
    assert ran(results) == {"plan", "train", "record", "evaluate", "report"}


def test_a_dispatch_for_an_already_trained_pr_only_evaluates() -> None:
    assert ran(simulate(Scenario(dispatched=True, changed=["cancer-mlp"]))) == {"plan", "evaluate", "report"}


@pytest.mark.parametrize(("scenario", "expected"), [
    (Scenario(outcome={"plan": "failure"}), {"plan", "report"}),
    (Scenario(fork=True, outcome={"plan": "failure"}), {"plan", "report"}),
    (Scenario(changed=["a"], train=["a"], outcome={"train": "failure"}), {"plan", "train", "report"}),
    (Scenario(changed=["a"], train=["a"], outcome={"record": "failure"}), {"plan", "train", "record", "report"}),
    (Scenario(changed=["a"], outcome={"evaluate": "failure"}), {"plan", "evaluate", "report"}),
], ids=["plan-fails", "fork-plan-fails", "train-fails", "record-fails", "evaluate-fails"])
def test_a_failure_ends_in_a_failure_status_never_a_commit(scenario: Scenario, expected: set[str]) -> None:
    results = simulate(scenario)
    assert ran(results) == expected
    failure = _step(results, scenario, "Set the mlops/gates commit status", "with", "failure")
    assert failure != "", "the status must say which job failed"


def test_the_status_is_set_even_when_the_comment_fails() -> None:
    scenario = Scenario(changed=["a"])
    results = simulate(scenario)
    report = yaml.safe_load(REUSABLE.read_text(encoding="utf-8"))["jobs"]["report"]
    comment = next(s for s in report["steps"] if s.get("name") == "Comment on the pull request")
    status = next(s for s in report["steps"] if s.get("name") == "Set the mlops/gates commit status")
    assert comment.get("continue-on-error") is True
    [runs] = evaluate([_case(str(status["if"]), scenario, _needs(report), results, job_status="failure")])
    assert runs


def _step(results: dict[str, str], scenario: Scenario, name: str, *path: str) -> str:
    """Evaluate an expression-valued field of a report step (e.g. the status's failure text) in this run."""
    report = yaml.safe_load(REUSABLE.read_text(encoding="utf-8"))["jobs"]["report"]
    step = next(s for s in report["steps"] if s.get("name") == name)
    value: Any = step
    for key in path:
        value = value[key]
    expr = str(value).strip().removeprefix("${{").removesuffix("}}").strip()
    case = _case(expr, scenario, _needs(report), results)
    case["expr"] = expr  # a value, not a condition: no success() around it
    proc = subprocess.run(["node", str(HELPER)], input=json.dumps({"package": str(EXPRESSIONS), "cases": [case],
                                                                   "raw": True}),
                          capture_output=True, text=True, timeout=60, check=True)
    return str(json.loads(proc.stdout)[0])


@pytest.mark.parametrize(("event", "runs"), [("pull_request", True), ("pull_request_review", True),
                                             ("push", False), ("issue_comment", False)])
def test_a_review_runs_the_pr_loop_again_so_an_approval_can_change_the_status(event: str, runs: bool) -> None:
    """A loosened rule keeps mlops/gates pending until the governance team approves: the approval (a
    pull_request_review) must start the PR run again, and mlops.yml must follow it."""
    pr = yaml.safe_load((ROOT / ".github" / "workflows" / "pr.yml").read_text(encoding="utf-8"))
    assert pr[True]["pull_request_review"] == {"types": ["submitted"]}  # YAML 1.1 reads `on` as True
    caller = yaml.safe_load((ROOT / ".github" / "workflows" / "mlops.yml").read_text(encoding="utf-8"))
    expr = str(caller["jobs"]["mlops"]["if"])
    context = {"github": {"event_name": "workflow_run", "event": {"workflow_run": {"event": event}}}}
    assert evaluate([{"expr": expr, "context": context, "status": {}}]) == [runs]

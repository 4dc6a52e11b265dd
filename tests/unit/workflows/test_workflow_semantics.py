"""The workflows as GitHub reads them: its parser accepts them, and its expression evaluator decides which jobs run.

GitHub's workflow parser (npm @actions/workflow-parser) parses every workflow and follows the call of the reusable
workflow, checking the inputs and secrets passed against the ones declared. Then each job's `if:` is evaluated by
the npm package @actions/expressions (the evaluator of GitHub's language services) in the contexts a real run would
have, job after job, with the runner's rules: an `if:` without a status function means `success() && (…)`,
`success()` is false once a needed job failed or was skipped, and a job that does not run has the result `skipped`.
The scenarios are the trust model: fork code never reaches a self-hosted job unless a maintainer dispatched the
run, secrets only reach `record`, a failure never ends in a status.
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
    caller = tmp_path / ".github" / "workflows" / "pr.yml"
    text = caller.read_text(encoding="utf-8")
    caller.write_text(text.replace("      head-sha: ${{ github.event.pull_request.head.sha || inputs.sha }}\n",
                                   "      heads-sha: ${{ inputs.sha }}\n"), encoding="utf-8")
    errors = parse(tmp_path, caller)["pr.yml"]
    assert any("Input head-sha is required, but not provided while calling" in e for e in errors), errors
    assert any("heads-sha is not defined in the referenced workflow" in e for e in errors), errors


def test_githubs_parser_rejects_a_job_that_needs_a_missing_job(tmp_path: Path) -> None:
    shutil.copytree(ROOT / ".github", tmp_path / ".github")
    reusable = tmp_path / ".github" / "workflows" / "mlops-pr.yml"
    reusable.write_text(reusable.read_text(encoding="utf-8").replace("needs: [validate, train, evaluate]",
                                                                     "needs: [validate, training, evaluate]"))
    assert parse(tmp_path, reusable)["mlops-pr.yml"]


@dataclass
class Scenario:
    event: str  # pull_request | workflow_dispatch
    fork: bool = False
    changed: list[str] = field(default_factory=list)
    train: list[str] = field(default_factory=list)
    outcome: dict[str, str] = field(default_factory=dict)  # job → result when it runs (default success)

    def github(self) -> dict[str, Any]:
        event: dict[str, Any] = {}
        if self.event == "pull_request":
            head = "contributor/models" if self.fork else REPO
            event = {"pull_request": {"number": 7, "head": {"repo": {"full_name": head}, "sha": "a" * 40}}}
        return {"event_name": self.event, "repository": REPO, "event": event}


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
            expr = str(job.get("if", "success()")).strip()
            expr = expr.removeprefix("${{").removesuffix("}}").strip()
            if not STATUS_CALL.search(expr):
                expr = f"success() && ({expr})"
            context = {
                "github": scenario.github(),
                "inputs": {"pr": 7, "head-sha": "a" * 40},
                "needs": {n: {"result": results[n], "outputs": _outputs(n, results[n], scenario)} for n in needs},
            }
            status = {"success": all(results[n] == "success" for n in needs),
                      "failure": any(results[n] == "failure" for n in needs), "cancelled": False}
            cases.append({"expr": expr, "context": context, "status": status})
        for job_id, runs in zip(ready, evaluate(cases), strict=True):
            results[job_id] = scenario.outcome.get(job_id, "success") if runs else "skipped"
    return results


def _needs(job: dict[str, Any]) -> list[str]:
    needs = job.get("needs", [])
    return [needs] if isinstance(needs, str) else list(needs)


def _outputs(job: str, result: str, scenario: Scenario) -> dict[str, str]:
    if job == "validate" and result == "success":
        return {"changed": json.dumps(scenario.changed), "train": json.dumps(scenario.train)}
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


def test_same_repo_pr_that_needs_training_trains_and_pushes_the_records_then_stops() -> None:
    results = simulate(Scenario("pull_request", changed=["digits-cnn"], train=["digits-cnn"]))
    assert ran(results) == {"validate", "train", "record"}


def test_the_run_started_by_the_record_push_evaluates_and_reports() -> None:
    results = simulate(Scenario("pull_request", changed=["digits-cnn"], train=[]))
    assert ran(results) == {"validate", "evaluate", "report"}


def test_a_pr_without_model_changes_still_gets_the_status() -> None:
    assert ran(simulate(Scenario("pull_request"))) == {"validate", "report"}


@pytest.mark.parametrize("changed", [[], ["digits-cnn"]])
def test_a_fork_pr_gets_validation_and_the_notice_and_nothing_on_self_hosted_runners(changed: list[str]) -> None:
    results = simulate(Scenario("pull_request", fork=True, changed=changed, train=changed))
    assert ran(results) == {"validate", "fork-notice"}
    assert not ran(results) & (SELF_HOSTED | {"record", "report"})


def test_a_fork_pr_whose_validation_fails_still_gets_the_notice() -> None:
    results = simulate(Scenario("pull_request", fork=True, outcome={"validate": "failure"}))
    assert ran(results) == {"validate", "fork-notice"}


def test_a_maintainer_dispatch_trains_evaluates_and_reports_without_pushing() -> None:
    results = simulate(Scenario("workflow_dispatch", changed=["cancer-mlp"], train=["cancer-mlp"]))
    assert ran(results) == {"validate", "train", "evaluate", "report"}


def test_a_dispatch_for_an_already_trained_pr_only_evaluates() -> None:
    results = simulate(Scenario("workflow_dispatch", changed=["cancer-mlp"], train=[]))
    assert ran(results) == {"validate", "evaluate", "report"}


@pytest.mark.parametrize(("scenario", "expected"), [
    (Scenario("pull_request", outcome={"validate": "failure"}), {"validate"}),
    (Scenario("pull_request", changed=["a"], train=["a"], outcome={"train": "failure"}), {"validate", "train"}),
    (Scenario("workflow_dispatch", changed=["a"], train=["a"], outcome={"train": "failure"}), {"validate", "train"}),
    (Scenario("workflow_dispatch", changed=["a"], outcome={"evaluate": "failure"}), {"validate", "evaluate"}),
], ids=["validate-fails", "train-fails", "dispatch-train-fails", "evaluate-fails"])
def test_a_failure_never_ends_in_a_status_or_a_push(scenario: Scenario, expected: set[str]) -> None:
    results = simulate(scenario)
    assert ran(results) == expected
    assert "report" not in ran(results) and "record" not in ran(results)

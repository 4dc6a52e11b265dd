"""Findings for the GPU runner groups (and the workflows allowed on them) and the App installation's permissions."""

from __future__ import annotations

from typing import Any

import pytest
from doctor_fake import REPO, FakeSettings, refused

from mlops.doctor import DoctorOptions, Finding, run_doctor
from mlops.doctor.app import judge
from mlops.doctor.runners import normalize, workflow_facts


def finding(source: FakeSettings, check: str, options: DoctorOptions | None = None) -> Finding:
    return next(f for f in run_doctor(source, options).findings if f.check == check)


# -- which workflows may use the GPU runners ----------------------------------------------------------

@pytest.mark.parametrize(("runs_on", "hosted"), [
    ("self-hosted", True), (["self-hosted", "gpu"], True), ({"group": "gpu"}, True),
    ({"labels": ["self-hosted"]}, True), ("ubuntu-latest", False), (["ubuntu-latest"], False),
    ("${{ inputs.runner }}", False), (None, False),
])
def test_a_job_counts_as_self_hosted_by_its_runs_on(runs_on: Any, hosted: bool) -> None:
    import yaml

    text = yaml.safe_dump({"on": "push", "jobs": {"a": {"runs-on": runs_on, "steps": []}}})
    assert workflow_facts(text) == (hosted, set())


def test_reusable_workflow_calls_and_broken_yaml() -> None:
    text = ("jobs:\n  call:\n    uses: ./.github/workflows/mlops-pr.yml\n"
            "  other:\n    uses: octo/x/.github/workflows/y.yml@v1\n")
    assert workflow_facts(text) == (False, {".github/workflows/mlops-pr.yml"})
    assert workflow_facts("jobs: [unclosed") == (False, set())
    assert workflow_facts("just a string") == (False, set())


def test_workflow_names_are_normalised() -> None:
    assert normalize("train.yml") == normalize("./.github/workflows/train.yml") == ".github/workflows/train.yml"


def test_callers_of_a_self_hosted_reusable_workflow_are_gpu_workflows_too() -> None:
    caller = "on: pull_request\njobs:\n  run:\n    uses: ./.github/workflows/train.yml\n"
    source = FakeSettings.good()
    source.answers["files"][".github/workflows/pr.yml"] = caller
    groups = [{"id": 2, "name": "gpu", "restricted_to_workflows": True,
               "selected_workflows": [f"{REPO}/.github/workflows/pr.yml@main"]}]
    source.answers["runner_groups"] = groups
    f = finding(source, "runner-groups")
    assert f.status == "ok" and "pr.yml, train.yml" in f.detail


def test_deleted_and_vanished_workflows_are_skipped() -> None:
    source = FakeSettings.good(workflows=[{"path": ".github/workflows/train.yml", "state": "active"},
                                          {"path": ".github/workflows/old.yml", "state": "deleted"},
                                          {"path": ".github/workflows/gone.yml", "state": "active"},
                                          {"path": "dynamic/pages/pages-build-deployment", "state": "active"}])
    assert finding(source, "runner-groups").status == "ok"
    read = [args[0] for name, args in source.calls if name == "file_text"]
    assert ".github/workflows/old.yml" not in read and "dynamic/pages/pages-build-deployment" not in read


def test_given_workflows_replace_discovery() -> None:
    source = FakeSettings.good()
    f = finding(source, "runner-groups", DoctorOptions(workflows=("train.yml", "deploy.yml")))
    assert f.status == "ok" and ("workflows", ()) not in source.calls


# -- runner groups ------------------------------------------------------------------------------------

def group(name: str = "gpu", restricted: bool = True, workflows: list[str] | None = None,
          **extra: Any) -> dict[str, Any]:
    return {"id": 2, "name": name, "restricted_to_workflows": restricted,
            "selected_workflows": workflows if workflows is not None else
            [f"{REPO}/.github/workflows/train.yml@main"], **extra}


@pytest.mark.parametrize(("groups", "words"), [
    ([group(restricted=False)], "lets every workflow of the repository use its runners"),
    ([group(restricted=False, allows_public_repositories=True)], "and public repositories"),
    ([group(workflows=[f"{REPO}/.github/workflows/pr.yml@main"])], "allows .github/workflows/pr.yml, not one"),
    ([group(workflows=[f"{REPO}/.github/workflows/train.yml@feature"])], "train.yml@feature: only main's"),
    ([group(workflows=[f"{REPO.upper()}/.github/workflows/train.yml@refs/pull/1/merge"])], "refs/pull/1/merge"),
])
def test_runner_groups_that_let_other_workflows_or_refs_in_are_missing(groups: list[dict[str, Any]],
                                                                       words: str) -> None:
    f = finding(FakeSettings.good(runner_groups=groups), "runner-groups")
    assert f.status == "missing" and words in f.detail and "train.yml" in f.fix


def test_refs_heads_form_of_the_default_branch_is_accepted() -> None:
    groups = [group(workflows=[f"{REPO}/.github/workflows/train.yml@refs/heads/main"])]
    assert finding(FakeSettings.good(runner_groups=groups), "runner-groups").status == "ok"


def test_an_unrestricted_group_is_ignored_only_when_it_has_no_runners() -> None:
    source = FakeSettings.good(group_runners={1: []})
    assert finding(source, "runner-groups").status == "ok"  # the empty Default group
    assert ("group_runners", ("octo-org", 1)) in source.calls
    assert finding(FakeSettings.good(group_runners={1: [{"name": "cpu"}]}), "runner-groups").status == "missing"
    unreadable = FakeSettings.good(group_runners=refused(403))
    assert finding(unreadable, "runner-groups").status == "missing"  # cannot tell it is empty: assume not


def test_no_group_available_to_the_repository_is_ok_and_says_so() -> None:
    f = finding(FakeSettings.good(runner_groups=[]), "runner-groups")
    assert f.status == "ok" and "no organisation runner group" in f.detail


@pytest.mark.parametrize("status", [403, 404])
def test_runner_groups_without_org_admin_are_unknown_with_the_token_needed(status: int) -> None:
    f = finding(FakeSettings.good(runner_groups=refused(status)), "runner-groups")
    assert f.status == "unknown" and "needs a token with org admin read" in f.detail and f"HTTP {status}" in f.detail


def test_repository_level_runners_are_missing_even_when_groups_cannot_be_read() -> None:
    source = FakeSettings.good(repo_runners=[{"name": "gpu-box"}], runner_groups=refused(403))
    f = finding(source, "runner-groups")
    assert f.status == "missing" and "gpu-box" in f.detail and "org admin" in f.detail


def test_a_user_owned_repository_has_no_runner_groups() -> None:
    user = {"default_branch": "main", "owner": {"login": "octocat", "type": "User"}}
    f = finding(FakeSettings.good(repo=user), "runner-groups")
    assert f.status == "unknown" and "do not apply to a user-owned repository" in f.detail
    with_runner = FakeSettings.good(repo=user, repo_runners=[{"name": "box"}])
    assert finding(with_runner, "runner-groups").status == "missing"
    assert not any(name == "runner_groups" for name, _ in with_runner.calls)


def test_repository_runners_unreadable_is_not_a_failure() -> None:
    f = finding(FakeSettings.good(repo_runners=refused(403)), "runner-groups")
    assert f.status == "ok" and "actions/list-self-hosted-runners-for-repo" not in f.reads


def test_workflows_unreadable_makes_the_runner_check_unknown() -> None:
    f = finding(FakeSettings.good(workflows=refused(403)), "runner-groups")
    assert f.status == "unknown" and "actions: read" in f.detail


def test_a_malformed_groups_answer_is_unknown() -> None:
    f = finding(FakeSettings.good(runner_groups={"runner_groups": []}), "runner-groups")
    assert f.status == "unknown" and "expected a list" in f.detail


# -- the App installation -----------------------------------------------------------------------------

INSTALLATION: dict[str, Any] = FakeSettings.good().answers["app_installation"]


def test_an_installation_with_only_what_the_framework_needs_is_ok() -> None:
    f = finding(FakeSettings.good(), "app-permissions")
    assert f.status == "unknown"  # no key: cannot read
    keyed = FakeSettings.good()
    keyed.has_app_key = True
    f = finding(keyed, "app-permissions")
    assert f.status == "ok" and "contents: write" in f.detail and f.reads == ("apps/get-repo-installation",)


@pytest.mark.parametrize(("change", "words"), [
    ({"permissions": {"contents": "read", "metadata": "read"}}, "contents is read, the bot needs write"),
    ({"permissions": {"metadata": "read"}}, "contents is not granted"),
    ({"permissions": {**INSTALLATION["permissions"], "workflows": "write", "administration": "read"}},
     "broader than the framework needs: administration: read, workflows: write"),
    ({"repository_selection": "all"}, "every repository of the account"),
    ({"suspended_at": "2025-01-01T00:00:00Z"}, "suspended"),
])
def test_installation_problems_are_missing(change: dict[str, Any], words: str) -> None:
    f = judge({**INSTALLATION, **change}, "repository")
    assert f.status == "missing" and words in f.detail and "contents write" in f.fix


def test_malformed_permissions_are_unknown() -> None:
    keyed = FakeSettings.good(app_installation={**INSTALLATION, "permissions": {"contents": "everything"}})
    keyed.has_app_key = True
    assert finding(keyed, "app-permissions").status == "unknown"


@pytest.mark.parametrize(("status", "expected", "words"), [
    (404, "missing", "not installed on octo-org/models"), (401, "unknown", "refused the App's JWT"),
    (403, "unknown", "GitHub refused the read"),
])
def test_app_installation_refusals(status: int, expected: str, words: str) -> None:
    keyed = FakeSettings.good(app_installation=refused(status))
    keyed.has_app_key = True
    f = finding(keyed, "app-permissions", DoctorOptions(app_id="Iv23abc"))
    assert f.status == expected and words in f.detail


def test_without_a_key_the_org_installations_are_read_by_app_id() -> None:
    source = FakeSettings.good(org_installations=[{**INSTALLATION, "client_id": "other", "app_id": 1},
                                                  {**INSTALLATION, "repository_selection": "all"}])
    f = finding(source, "app-permissions", DoctorOptions(app_id="Iv23abc"))
    assert f.status == "missing" and "every repository" in f.detail and f.reads == ("orgs/list-app-installations",)
    assert finding(source, "app-permissions", DoctorOptions(app_id="7")).status == "missing"
    absent = finding(source, "app-permissions", DoctorOptions(app_id="nope"))
    assert absent.status == "missing" and "not installed in octo-org" in absent.detail


def test_org_installations_without_org_admin_are_unknown() -> None:
    f = finding(FakeSettings.good(org_installations=refused(403)), "app-permissions", DoctorOptions(app_id="7"))
    assert f.status == "unknown" and "org admin" in f.detail and "private key" in f.fix

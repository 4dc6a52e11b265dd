"""Findings from settings data: every check's ok, missing and unknown paths (fork approval, ruleset,
CODEOWNERS, the bot environment), and how run_doctor turns refusals and odd answers into findings."""

from __future__ import annotations

from typing import Any

import pytest
from doctor_fake import REPO, FakeSettings, refused

from mlops.adapters.forge import ForgeError
from mlops.doctor import CHECKS, DoctorOptions, Finding, run_doctor


def finding(source: FakeSettings, check: str, options: DoctorOptions | None = None) -> Finding:
    report = run_doctor(source, options)
    return next(f for f in report.findings if f.check == check)


def test_a_repository_set_up_as_documented_passes_every_check_but_the_unread_app() -> None:
    report = run_doctor(FakeSettings.good())
    assert [f.check for f in report.findings] == [c.id for c in CHECKS]
    assert {f.check: f.status for f in report.findings} == {
        "fork-pr-approval": "ok", "ruleset": "ok", "codeowners": "ok", "bot-environment": "ok",
        "runner-groups": "ok", "app-permissions": "unknown"}
    assert report.default_branch == "main" and report.repository == REPO
    assert report.exit_code() == 0 and report.exit_code(strict=True) == 1


# -- fork pull request approval -----------------------------------------------------------------------

@pytest.mark.parametrize(("policy", "words"), [
    ("first_time_contributors", "one contribution merged"),
    ("first_time_contributors_new_to_github", "GitHub's default"),
])
def test_weaker_fork_approval_policies_are_missing_and_say_who_runs_unreviewed(policy: str, words: str) -> None:
    f = finding(FakeSettings.good(fork_pr_approval={"approval_policy": policy}), "fork-pr-approval")
    assert f.status == "missing" and policy in f.detail and words in f.detail
    assert "all external contributors" in f.fix


def test_fork_approval_without_a_policy_on_a_private_repository_is_unknown_not_missing() -> None:
    f = finding(FakeSettings.good(fork_pr_approval=refused(404, "Not Found")), "fork-pr-approval")
    assert f.status == "unknown" and "private" in f.detail


def test_fork_approval_refused_to_a_non_admin_token_says_what_the_token_needs() -> None:
    f = finding(FakeSettings.good(fork_pr_approval=refused(403)), "fork-pr-approval")
    assert f.status == "unknown" and "administration: read" in f.detail and "HTTP 403" in f.detail


def test_an_unknown_fork_policy_value_is_unknown_not_a_crash() -> None:
    f = finding(FakeSettings.good(fork_pr_approval={"approval_policy": "everyone"}), "fork-pr-approval")
    assert f.status == "unknown" and "not as documented" in f.detail


# -- the ruleset on the default branch -----------------------------------------------------------------

def rules(status: list[str] | None = None, approvals: int | None = 1, owners: bool = True) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if status is not None:
        out.append({"type": "required_status_checks", "ruleset_id": 9,
                    "parameters": {"required_status_checks": [{"context": c} for c in status]}})
    if approvals is not None:
        out.append({"type": "pull_request", "ruleset_id": 9, "parameters": {
            "required_approving_review_count": approvals, "require_code_owner_review": owners}})
    return out


@pytest.mark.parametrize(("answer", "problem"), [
    (rules(status=["ci"]), "no active ruleset requires the status check mlops/gates"),
    (rules(status=None), "no active ruleset requires the status check mlops/gates"),
    (rules(status=["mlops/gates"], approvals=None), "no active ruleset requires a pull request"),
    (rules(status=["mlops/gates"], approvals=0), "need no approving review"),
    (rules(status=["mlops/gates"], owners=False), "code owners' review is not required"),
    ([], "no active ruleset applies to main"),
])
def test_ruleset_gaps_are_missing(answer: list[dict[str, Any]], problem: str) -> None:
    f = finding(FakeSettings.good(branch_rules=answer), "ruleset")
    assert f.status == "missing" and problem in f.detail and "mlops/gates" in f.fix
    assert ("classic branch protection" in f.detail) == (answer == [])


def test_rules_from_several_rulesets_combine_the_most_restrictive_way() -> None:
    answer = [*rules(status=["mlops/gates"], approvals=0, owners=False),
              {"type": "pull_request", "ruleset_source": "org-wide",
               "parameters": {"required_approving_review_count": 2, "require_code_owner_review": True}}]
    f = finding(FakeSettings.good(branch_rules=answer), "ruleset")
    assert f.status == "ok" and "≥ 2 approvals" in f.detail and "org-wide" in f.detail


def test_a_custom_status_name_is_what_the_ruleset_must_require() -> None:
    source = FakeSettings.good()
    assert finding(source, "ruleset", DoctorOptions(status="ci/gates")).status == "missing"
    assert ("branch_rules", ("main",)) in source.calls


def test_a_malformed_rules_answer_is_unknown() -> None:
    answer = [{"type": "required_status_checks", "parameters": {"required_status_checks": "mlops/gates"}}]
    f = finding(FakeSettings.good(branch_rules=answer), "ruleset")
    assert f.status == "unknown" and "not as documented" in f.detail


# -- CODEOWNERS ---------------------------------------------------------------------------------------

def with_codeowners(text: str | None, path: str = ".github/CODEOWNERS", **changes: Any) -> FakeSettings:
    source = FakeSettings.good(**changes)
    del source.answers["files"][".github/CODEOWNERS"]
    if text is not None:
        source.answers["files"][path] = text
    return source


def test_codeowners_is_found_where_github_looks_in_its_order() -> None:
    source = with_codeowners("* @a\n", path="docs/CODEOWNERS")
    f = finding(source, "codeowners")
    assert f.status == "ok" and f.detail.startswith("docs/CODEOWNERS owns")
    looked = [args[0] for name, args in source.calls if name == "file_text" and "CODEOWNERS" in args[0]]
    assert looked == [".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS"]


def test_no_codeowners_file_is_missing() -> None:
    f = finding(with_codeowners(None), "codeowners")
    assert f.status == "missing" and "no CODEOWNERS file on main" in f.detail


def test_a_later_pattern_without_owners_unassigns_an_area() -> None:
    text = "* @octo-org/platform\n/environments/\n"
    f = finding(with_codeowners(text), "codeowners")
    assert f.status == "missing" and "no owner for environments/" in f.detail
    assert "models/*/versions/" not in f.detail.split("no owner for")[1]


def test_owning_only_one_model_leaves_new_models_versions_unowned() -> None:
    text = "/environments/ @a\n/models/digits-cnn/ @b\n/.github/ @c\n/mlops/ @c\n"
    f = finding(with_codeowners(text), "codeowners")
    assert f.status == "missing" and "models/*/versions/" in f.detail


def test_a_root_codeowners_file_must_own_itself() -> None:
    text = "/environments/ @a\n/models/ @b\n/.github/ @c\n/mlops/ @c\n"
    f = finding(with_codeowners(text, path="CODEOWNERS"), "codeowners")
    assert f.status == "missing" and "no owner for CODEOWNERS" in f.detail


def test_errors_github_reports_in_codeowners_are_missing() -> None:
    errors = [{"line": 3, "column": 1, "kind": "Unknown owner", "message": "x", "path": ".github/CODEOWNERS"}] * 4
    f = finding(FakeSettings.good(codeowners_errors=errors), "codeowners")
    assert f.status == "missing" and "4 errors" in f.detail and "line 3: Unknown owner" in f.detail
    assert "(+1 more)" in f.detail


def test_codeowners_unreadable_is_unknown_not_missing() -> None:
    f = finding(FakeSettings.good(files=refused(403)), "codeowners")
    assert f.status == "unknown" and "contents: read" in f.detail


# -- the bot's environment ----------------------------------------------------------------------------

def test_no_environment_is_missing_with_how_to_create_it() -> None:
    f = finding(FakeSettings.good(environment=refused(404, "Not Found")), "bot-environment")
    assert f.status == "missing" and "no environment 'mlops-bot'" in f.detail and f.fix.startswith("create it")


@pytest.mark.parametrize(("policy", "policies", "words"), [
    (None, [], "any branch"),
    ({"protected_branches": True, "custom_branch_policies": False}, [], "every protected branch"),
    ({"protected_branches": False, "custom_branch_policies": True}, [], "no branch may deploy"),
    ({"protected_branches": False, "custom_branch_policies": True},
     [{"name": "main", "type": "branch"}, {"name": "release/*", "type": "branch"}], "branch release/*"),
    ({"protected_branches": False, "custom_branch_policies": True},
     [{"name": "main"}, {"name": "v*", "type": "tag"}], "tag v*"),
])
def test_deployment_branch_policies_other_than_only_the_default_branch_are_missing(
        policy: dict[str, Any] | None, policies: list[dict[str, Any]], words: str) -> None:
    env = {"name": "mlops-bot", "deployment_branch_policy": policy}
    f = finding(FakeSettings.good(environment=env, deployment_branch_policies=policies), "bot-environment")
    assert f.status == "missing" and words in f.detail and "only main" in f.fix


def test_an_untyped_main_policy_counts_as_the_branch() -> None:
    f = finding(FakeSettings.good(deployment_branch_policies=[{"name": "main"}]), "bot-environment")
    assert f.status == "ok" and f.detail == "only main may deploy"


def test_a_custom_environment_name_is_the_one_read() -> None:
    source = FakeSettings.good()
    assert finding(source, "bot-environment", DoctorOptions(environment="bot")).title == "environment bot"
    assert ("environment", ("bot",)) in source.calls


def test_a_contradictory_branch_policy_answer_is_unknown() -> None:
    env = {"deployment_branch_policy": {"protected_branches": False, "custom_branch_policies": False}}
    assert finding(FakeSettings.good(environment=env), "bot-environment").status == "unknown"


# -- how failures become findings ---------------------------------------------------------------------

def test_a_rate_limit_that_outlasts_the_retries_is_unknown_with_the_message() -> None:
    error = ForgeError("GET /repos/x/rules/branches/main: rate limited for another 3600 s; retry later", 403)
    f = finding(FakeSettings.good(branch_rules=error), "ruleset")
    assert f.status == "unknown" and "rate limited" in f.detail


def test_a_server_error_after_retries_is_unknown_and_the_other_checks_still_run() -> None:
    report = run_doctor(FakeSettings.good(environment=ForgeError("GET /x: HTTP 502 after 5 attempts", 502)))
    statuses = {f.check: f.status for f in report.findings}
    assert statuses["bot-environment"] == "unknown" and statuses["ruleset"] == "ok"


def test_an_unreadable_repository_is_one_error_that_names_it() -> None:
    with pytest.raises(ForgeError, match=f"cannot read the repository {REPO}.*--repository") as info:
        run_doctor(FakeSettings.good(repo=refused(404, "Not Found")))
    assert info.value.status == 404
    with pytest.raises(ForgeError, match="no default_branch"):
        run_doctor(FakeSettings.good(repo={"owner": {"login": "x"}}))

"""The GitHub forge's pull request, commit, issue and deployment operations against GitHub's OpenAPI description.

The contract server checks every request and answer against the description; ``tests.helpers.github_state`` plays
the repository behind it (git objects, refs, pulls, reviews, issues, deployments).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mlops.adapters.forge import ForgeError
from mlops.adapters.forge.github import GitHubForge
from mlops.adapters.forge.retry import RetryPolicy
from tests.helpers import github_contract as cs
from tests.helpers.github_state import BOT, Repo, install


@pytest.fixture
def gh() -> Iterator[tuple[cs.ContractServer, Repo]]:
    with cs.ContractServer() as server:
        repo = install(server)
        yield server, repo
        assert server.violations == []


@pytest.fixture
def client(gh: tuple[cs.ContractServer, Repo]) -> Iterator[GitHubForge]:
    with GitHubForge("o/r", cs.TOKEN, gh[0].url, identity=BOT, sleep=lambda s: None,
                     policy=RetryPolicy(attempts=2)) as forge:
        yield forge


def test_the_bot_commits_through_the_git_database_and_github_attests_it(
        client: GitHubForge, gh: tuple[cs.ContractServer, Repo]) -> None:
    _, repo = gh
    base = repo.commit({"environments/dev.yaml": b"pins: {}\n", "README.md": b"x\n"}, [], "base")
    repo.refs["heads/main"] = base
    sha = client.commit_files("mlops/promote/m-staging", {"environments/dev.yaml": b"pins: {m: v2}\n",
                                                          "README.md": None}, "promote m", parent=base)
    assert repo.refs["heads/mlops/promote/m-staging"] == sha
    assert repo.files(sha) == {"environments/dev.yaml": b"pins: {m: v2}\n"}
    assert client.is_bot_commit(sha) and not client.is_bot_commit(base)
    again = client.commit_files("mlops/promote/m-staging", {"x.txt": b"1"}, "more", parent=sha)
    assert repo.commits[again]["parents"] == [sha]
    with pytest.raises(ForgeError, match="moved on"):
        client.commit_files("mlops/promote/m-staging", {"x.txt": b"2"}, "stale", parent=sha)


def test_branch_tips_and_files_are_read_from_github(client: GitHubForge, gh: tuple[cs.ContractServer, Repo]) -> None:
    _, repo = gh
    base = repo.commit({"monitor/prod/m.json": b'{"runs": []}', "a/b c.txt": b"x"}, [], "state")
    repo.refs["heads/mlops/monitor"] = base
    assert client.branch_tip("mlops/monitor") == base and client.branch_tip("nope") is None
    assert client.read_file("mlops/monitor", "monitor/prod/m.json") == b'{"runs": []}'
    assert client.read_file(base, "a/b c.txt") == b"x"
    assert client.read_file("mlops/monitor", "monitor/prod/other.json") is None


def test_a_hand_made_commit_naming_the_bot_is_not_attested(client: GitHubForge,
                                                           gh: tuple[cs.ContractServer, Repo]) -> None:
    _, repo = gh
    forged = repo.commit({"a": b"1"}, [], "looks like the bot", author=BOT)
    repo.commits[forged]["verified"] = False  # a push with the bot's name typed into git config
    assert not client.is_bot_commit(forged) and not client.is_bot_commit("not-a-sha")


def test_pull_requests_reviews_and_merges(client: GitHubForge, gh: tuple[cs.ContractServer, Repo]) -> None:
    _, repo = gh
    base = repo.commit({"a": b"1"}, [], "base")
    head = repo.commit({"a": b"1", "b": b"2"}, [base], "change")
    repo.refs.update({"heads/main": base, "heads/feature": head})
    repo.pulls[7] = {"number": 7, "state": "open", "title": "t", "head": "feature", "head_sha": head, "base": "main",
                     "base_sha": base, "reviews": [{"user": "alice", "state": "APPROVED", "commit": head}]}
    pull = client.get_pr(7)
    assert (pull.head_sha, pull.base_sha, pull.merged) == (head, base, False)
    assert client.update_pr(7, body="evidence").body == "evidence"
    assert [(r.user, r.state, r.commit) for r in client.reviews(7)] == [("alice", "APPROVED", head)]
    with pytest.raises(ForgeError, match="HTTP 409"):
        client.merge_pr(7, base, "Merge")
    merged = client.merge_pr(7, head, "Merge pull request #7\n\nPromote m")
    assert repo.refs["heads/main"] == merged and client.get_pr(7).merged
    assert [p.number for p in client.prs_for_commit(head)] == [7]


def test_incidents_are_issues_found_by_marker_and_author(client: GitHubForge,
                                                         gh: tuple[cs.ContractServer, Repo]) -> None:
    _, repo = gh
    assert client.find_issue("<!-- fp:1 -->", "mlops:data-quality") is None
    issue = client.open_issue("Data quality", "<!-- fp:1 -->\nmissing values", ["mlops:data-quality"])
    assert client.find_issue("<!-- fp:1 -->", "mlops:data-quality") == issue
    repo.issues[issue.number]["user"] = "mallory"
    assert client.find_issue("<!-- fp:1 -->", "mlops:data-quality") is None
    assert client.update_issue(issue.number, state="closed").state == "closed"


def test_deployments_and_their_statuses(client: GitHubForge, gh: tuple[cs.ContractServer, Repo]) -> None:
    _, repo = gh
    deployment = client.create_deployment("main", "prod", "digits-cnn@v2")
    client.set_deployment_status(deployment, "success", "smoke test passed", "https://ci/run/1")
    (d,) = repo.deployments
    assert d["environment"] == "prod" and d["production_environment"] is True
    assert d["statuses"] == [{"state": "success", "description": "smoke test passed", "auto_inactive": True,
                              "log_url": "https://ci/run/1"}]


def test_team_members_are_read_from_github(client: GitHubForge, gh: tuple[cs.ContractServer, Repo]) -> None:
    _, repo = gh
    repo.teams["acme/ml-governance"] = ["alice", "bob"]
    assert client.team_members("@acme/ml-governance") == {"alice", "bob"}
    assert client.team_members("@acme/nobody") is None  # unknown team, or a token without Members: read
    assert client.team_members("@alice") is None  # a user, not a team


def test_deployments_are_listed_with_their_latest_state(client: GitHubForge,
                                                        gh: tuple[cs.ContractServer, Repo]) -> None:
    first = client.create_deployment("a" * 40, "dev", "local deploy of dev")
    client.set_deployment_status(first, "in_progress", "deploying")
    client.set_deployment_status(first, "success", "smoke test passed")
    second = client.create_deployment("b" * 40, "dev", "local deploy of dev")
    client.set_deployment_status(second, "failure", "smoke test failed")
    client.create_deployment("c" * 40, "prod", "pull deploy of prod")
    found = client.deployments("dev")
    assert [(d.id, d.state) for d in found] == [(second, "failure"), (first, "success")]
    assert found[0].environment == "dev" and found[0].description == "local deploy of dev"

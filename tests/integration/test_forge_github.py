"""The GitHub REST client against a local server that checks every request against GitHub's OpenAPI description."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mlops.adapters.forge import ForgeError, settings, upsert_comment
from mlops.adapters.forge.github import OPERATIONS, GitHubForge
from mlops.adapters.forge.retry import RetryPolicy
from tests.helpers import github_contract as cs

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "github"
SHA = "6113728f27ae82c7b1a177c8d03f9e96e0adf246"




@pytest.fixture
def gh() -> Iterator[cs.ContractServer]:
    with cs.ContractServer() as server:
        yield server
        assert server.violations == []


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(gh: cs.ContractServer, sleeps: list[float]) -> Iterator[GitHubForge]:
    with GitHubForge("Codertocat/Hello-World", cs.TOKEN, gh.url, sleep=sleeps.append, clock=lambda: 1_000.0,
                     policy=RetryPolicy(attempts=4, base=0.5, cap=4.0, max_wait=120.0)) as forge:
        yield forge


def test_every_operation_used_is_in_the_trimmed_fixture_and_the_generator() -> None:
    spec = json.loads((FIXTURES / "openapi-trimmed.json").read_text())
    found = {op["operationId"]: (path, method) for path, item in spec["paths"].items()
             for method, op in item.items() if method != "parameters"}
    used = {**OPERATIONS, **settings.OPERATIONS}  # the Forge client's and the settings reader's (mlops doctor)
    assert found == used
    gen = importlib.util.spec_from_file_location("gen_fixtures", FIXTURES.parents[2] / "scripts" /
                                                 "gen_github_fixtures.py")
    assert gen is not None and gen.loader is not None
    module = importlib.util.module_from_spec(gen)
    gen.loader.exec_module(module)
    assert used == module.OPERATIONS


def test_comment_create_find_update(client: GitHubForge, gh: cs.ContractServer) -> None:
    created = client.create_comment(2, "<!-- mlops-report -->\nhello")
    assert created.url.endswith(f"#issuecomment-{created.id}")
    found = client.find_comment(2, "<!-- mlops-report -->")
    assert found == created
    updated = client.update_comment(created.id, "<!-- mlops-report -->\nbye")
    assert updated.body.endswith("bye") and gh.state.comments[created.id]["body"].endswith("bye")
    assert client.find_comment(3, "<!-- mlops-report -->") is None


def test_a_quoted_marker_in_someone_elses_comment_is_not_ours(client: GitHubForge) -> None:
    client.create_comment(2, "> <!-- mlops-report -->\n> quoted by a reviewer")
    assert client.find_comment(2, "<!-- mlops-report -->") is None


def test_find_comment_follows_link_pagination(gh: cs.ContractServer, sleeps: list[float]) -> None:
    gh.per_page_cap = 2
    with GitHubForge("Codertocat/Hello-World", cs.TOKEN, gh.url, sleep=sleeps.append) as forge:
        for i in range(5):
            forge.create_comment(2, f"comment {i}")
        forge.create_comment(2, "<!-- mlops-report -->\nlast")
        assert forge.find_comment(2, "<!-- mlops-report -->") is not None
    pages = [c.query.get("page", "1") for c in gh.calls("issues/list-comments")]
    assert pages == ["1", "2", "3"]


def test_a_next_page_on_another_host_is_refused_without_sending_the_token(gh: cs.ContractServer) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.host == "api.example.com"
        return httpx.Response(200, json=[], headers={"link": '<https://evil.example.net/x?page=2>; rel="next"'})

    with GitHubForge("o/r", "secret", "https://api.example.com", transport=httpx.MockTransport(handler)) as forge, \
            pytest.raises(ForgeError, match="another host"):
        forge.find_comment(1, "<!-- m -->")


def test_upsert_twice_leaves_one_comment(client: GitHubForge, gh: cs.ContractServer) -> None:
    body = "<!-- mlops-report -->\n## report"
    assert upsert_comment(client, 2, "<!-- mlops-report -->", body)[1] == "created"
    assert upsert_comment(client, 2, "<!-- mlops-report -->", body)[1] == "unchanged"
    assert upsert_comment(client, 2, "<!-- mlops-report -->", body + "\nmore")[1] == "updated"
    assert len(gh.calls("issues/create-comment")) == 1 and len(gh.calls("issues/update-comment")) == 1
    assert len(gh.state.comments) == 1


def test_commit_status(client: GitHubForge, gh: cs.ContractServer) -> None:
    client.set_status(SHA, "failure", "mlops/gates", "x" * 300, "https://github.com/o/r/actions/runs/1")
    (status,) = gh.state.statuses
    assert status["state"] == "failure" and status["context"] == "mlops/gates" and len(status["description"]) == 140
    with pytest.raises(ForgeError, match="not a full commit SHA"):
        client.set_status("HEAD", "success", "mlops/gates", "ok")


def test_labels(client: GitHubForge, gh: cs.ContractServer) -> None:
    client.add_labels(2, ["model:digits-cnn"])
    client.add_labels(2, ["model:digits-cnn", "gates:passed"])
    client.add_labels(2, [])
    assert gh.state.labels[2] == ["model:digits-cnn", "gates:passed"] and len(gh.calls("issues/add-labels")) == 2


def test_find_and_open_pull_requests_idempotently(client: GitHubForge, gh: cs.ContractServer) -> None:
    assert client.find_open_pr("retrain/digits-cnn") is None
    pr = client.open_pr("retrain/digits-cnn", "main", "Retrain digits-cnn", "body")
    again = client.open_pr("retrain/digits-cnn", "main", "Retrain digits-cnn", "body")
    assert pr == again and pr.number == 1 and pr.head == "retrain/digits-cnn"
    assert len(gh.calls("pulls/create")) == 1
    assert gh.calls("pulls/list")[1].query == {"state": "open", "head": "Codertocat:retrain/digits-cnn",
                                               "base": "main", "per_page": "100"}


def test_open_pr_that_races_with_another_run_returns_the_other_runs_pr(client: GitHubForge,
                                                                      gh: cs.ContractServer) -> None:
    original = gh._respond

    def racing(op, params, query, body):  # type: ignore[no-untyped-def]
        if op.op_id == "pulls/create":
            gh.add_pull(7, body["head"], body["base"])  # someone else opened it a moment ago
        return original(op, params, query, body)

    gh._respond = racing
    assert client.open_pr("promote/staging", "main", "Promote", "b").number == 7


@pytest.mark.parametrize(("status", "headers", "message", "wait"), [
    (500, {}, "Server Error", 0.5),
    (502, {}, "Bad Gateway", 0.5),
    (429, {"retry-after": "3"}, "Too Many Requests", 3.0),
    (403, {"retry-after": "2"}, "You have exceeded a secondary rate limit", 2.0),
    (403, {}, "You have exceeded a secondary rate limit", 60.0),
    (403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1010"}, "API rate limit exceeded", 11.0),
])
def test_transient_failures_are_retried_after_the_right_wait(client: GitHubForge, gh: cs.ContractServer,
                                                             sleeps: list[float], status: int,
                                                             headers: dict[str, str], message: str,
                                                             wait: float) -> None:
    gh.fail(status, headers, message=message)
    client.create_comment(2, "x")
    assert sleeps == [wait] and len(gh.calls("issues/create-comment")) == 2 and len(gh.state.comments) == 1


def test_backoff_grows_and_attempts_are_bounded(client: GitHubForge, gh: cs.ContractServer,
                                                sleeps: list[float]) -> None:
    gh.fail(503, times=10)
    with pytest.raises(ForgeError, match=r"HTTP 503 Server Error after 4 attempts"):
        client.set_status(SHA, "success", "mlops/gates", "ok")
    assert sleeps == [0.5, 1.0, 2.0] and len(gh.calls("repos/create-commit-status")) == 4


def test_a_rate_limit_longer_than_the_patience_fails_with_the_wait(client: GitHubForge, gh: cs.ContractServer,
                                                                   sleeps: list[float]) -> None:
    gh.fail(403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "4600"}, message="API rate limit exceeded")
    with pytest.raises(ForgeError, match="rate limited for another 3601 s"):
        client.add_labels(2, ["x"])
    assert sleeps == []


def test_a_permission_error_is_not_retried_and_names_the_permissions(client: GitHubForge, gh: cs.ContractServer,
                                                                     sleeps: list[float]) -> None:
    gh.fail(403, message="Resource not accessible by integration")
    with pytest.raises(ForgeError) as info:
        client.create_comment(2, "x")
    message = str(info.value)
    assert "HTTP 403 Resource not accessible by integration" in message and "pull-requests: write" in message
    assert sleeps == [] and cs.TOKEN not in message


def test_bad_credentials_never_echo_the_token(gh: cs.ContractServer) -> None:
    with GitHubForge("Codertocat/Hello-World", "ghp_wrong-token", gh.url) as forge, \
            pytest.raises(ForgeError) as info:
        forge.create_comment(2, "x")
    assert "HTTP 401 Bad credentials" in str(info.value) and "ghp_wrong-token" not in str(info.value)


def test_connection_refused_is_retried_then_reported(sleeps: list[float]) -> None:
    with GitHubForge("o/r", "t", "http://127.0.0.1:9", sleep=sleeps.append,
                     policy=RetryPolicy(attempts=3, base=0.1)) as forge, pytest.raises(ForgeError, match="Connect"):
        forge.create_comment(1, "x")
    assert sleeps == [0.1, 0.2]


def test_github_enterprise_api_prefix_is_kept() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return httpx.Response(201, json={"id": 1, "body": "x", "html_url": ""})

    with GitHubForge("o/r", "t", "https://ghe.example.com/api/v3/", transport=httpx.MockTransport(handler)) as forge:
        forge.create_comment(5, "x")
    assert seen == ["/api/v3/repos/o/r/issues/5/comments"]


@pytest.mark.parametrize("repository", ["noslash", "o/r/x", "../etc", ""])
def test_bad_repository_is_a_clear_error(repository: str) -> None:
    with pytest.raises(ForgeError, match="is not 'owner/name'"):
        GitHubForge(repository, "t")


def test_only_a_comment_of_its_own_identity_is_found(client: GitHubForge, gh: cs.ContractServer) -> None:
    pasted = client.create_comment(2, "<!-- mlops-report -->\npasted by a person")
    gh.state.comments[pasted.id].update(user="octocat", user_type="User")
    other_bot = client.create_comment(2, "<!-- mlops-report -->\nanother bot's text")
    gh.state.comments[other_bot.id].update(user="some-app[bot]")
    assert client.find_comment(2, "<!-- mlops-report -->") is None  # a planted marker is never taken over
    ours = client.create_comment(2, "<!-- mlops-report -->\nthe report")
    assert client.find_comment(2, "<!-- mlops-report -->") == ours

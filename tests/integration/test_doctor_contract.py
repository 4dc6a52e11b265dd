"""The settings reader and `mlops doctor` against a local server that holds every request to GitHub's OpenAPI
description (tests/helpers/github_contract.py): the routes, parameters and headers sent, the answers parsed,
403/404 refusals, rate limits handled by the retry policy, malformed answers, and the App's JWT."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from mlops.adapters.forge import ForgeError, settings
from mlops.adapters.forge.retry import RetryPolicy
from mlops.adapters.forge.settings import GitHubSettings, app_jwt
from mlops.cli import main
from mlops.doctor import DoctorOptions, run_doctor
from tests.helpers import github_contract as cs

REPO = "octo-org/models"
APP_ID = "Iv23liAbCdEf"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PEM = KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                        serialization.NoEncryption()).decode()
CODEOWNERS = "* @octo-org/platform\n/environments/ @octo-org/approvers\n/models/*/versions/ @octo-org/ml\n"
TRAIN = "on: workflow_dispatch\njobs:\n  train:\n    runs-on: [self-hosted, gpu]\n    steps: [{run: echo}]\n"
PR = "on: pull_request\njobs:\n  validate:\n    runs-on: ubuntu-latest\n    steps: [{run: echo}]\n"
Answer = tuple[int, dict[str, str], Any]


Refusal = cs.Refusal


def _b64(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


class DoctorServer(cs.ContractServer):
    """The contract server, plus the App's JWT accepted where it verifies (with the App's public key)."""

    def __init__(self) -> None:
        super().__init__()
        self.jwt_claims: list[tuple[str, dict[str, Any]]] = []  # (path, claims) of requests made with the JWT

    def handle(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> Answer:
        auth = headers.get("authorization") or headers.get("Authorization") or ""
        token = auth.removeprefix("Bearer ")
        if token.count(".") == 2 and token.startswith("eyJ"):
            head, claims, signature = token.split(".")
            KEY.public_key().verify(_b64(signature), f"{head}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256())
            self.jwt_claims.append((target, json.loads(_b64(claims))))
            headers = {**{k: v for k, v in headers.items() if k.lower() != "authorization"},
                       "authorization": f"Bearer {cs.TOKEN}"}
        return super().handle(method, target, headers, raw)

    def on(self, op_id: str, handler: Callable[[dict[str, str], dict[str, str]], Any], status: int = 200) -> None:
        self.handlers[op_id] = lambda params, query, body: (status, {}, handler(params, query))


def instance(server: cs.ContractServer, schema: str, **values: Any) -> dict[str, Any]:
    base = server.contract.instance({"$ref": f"#/components/schemas/{schema}"})
    assert isinstance(base, dict)
    return {**base, **values}


def file_answer(path: str, text: str) -> dict[str, Any]:
    url = f"https://api.github.com/repos/{REPO}/contents/{path}"
    return {"type": "file", "encoding": "base64", "size": len(text), "name": path.rsplit("/", 1)[-1], "path": path,
            "content": base64.b64encode(text.encode()).decode(), "sha": "a" * 40, "url": url, "git_url": url,
            "html_url": url, "download_url": url, "_links": {"self": url, "git": url, "html": url}}


def set_up(server: DoctorServer, files: dict[str, str] | None = None) -> None:
    """A repository set up as the README says."""
    files = {".github/CODEOWNERS": CODEOWNERS + "/.github/ @octo-org/platform\n/mlops/ @octo-org/platform\n",
             ".github/workflows/pr.yml": PR, ".github/workflows/train.yml": TRAIN} if files is None else files
    server.answer("repos/get", {"default_branch": "main", "private": False,
                                "owner": {"login": "octo-org", "type": "Organization"}})
    server.answer("actions/get-fork-pr-contributor-approval-permissions-repository",
                  {"approval_policy": "all_external_contributors"})
    server.answer("repos/get-branch-rules", [
        {"type": "required_status_checks", "ruleset_source_type": "Repository", "ruleset_source": "octo-org/models",
         "ruleset_id": 42, "parameters": {"required_status_checks": [{"context": "mlops/gates"}],
                                          "strict_required_status_checks_policy": True}},
        {"type": "pull_request", "ruleset_source_type": "Organization", "ruleset_source": "octo-org", "ruleset_id": 7,
         "parameters": {"dismiss_stale_reviews_on_push": True, "require_code_owner_review": True,
                        "require_last_push_approval": True, "required_approving_review_count": 1,
                        "required_review_thread_resolution": False}}])

    def content(params: dict[str, str], query: dict[str, str]) -> Any:
        assert query == {"ref": "main"}
        if params["path"] not in files:
            raise Refusal(404)
        return file_answer(params["path"], files[params["path"]])

    server.on("repos/get-content", content)
    server.answer("repos/codeowners-errors", {"errors": []})
    server.answer("repos/get-environment", {"name": "mlops-bot", "deployment_branch_policy": {
        "protected_branches": False, "custom_branch_policies": True}})
    server.answer("repos/list-deployment-branch-policies", {"total_count": 1, "branch_policies": [
        {"id": 1, "node_id": "x", "name": "main", "type": "branch"}]})
    server.answer("actions/list-repo-workflows", {"total_count": 2, "workflows": [
        instance(server, "workflow", path=f".github/workflows/{n}", state="active") for n in ("pr.yml", "train.yml")]})
    server.answer("actions/list-self-hosted-runners-for-repo", {"total_count": 0, "runners": []})
    gpu = instance(server, "runner-groups-org", id=3, name="gpu", restricted_to_workflows=True,
                   selected_workflows=[f"{REPO}/.github/workflows/train.yml@main"])
    default = instance(server, "runner-groups-org", id=1, name="Default", default=True)

    def groups(params: dict[str, str], query: dict[str, str]) -> Any:
        assert query["visible_to_repository"] == "models"
        return {"total_count": 2, "runner_groups": [gpu, default]}

    server.on("actions/list-self-hosted-runner-groups-for-org", groups)
    server.answer("actions/list-self-hosted-runners-in-group-for-org", {"total_count": 0, "runners": []})
    installation = instance(server, "installation", app_slug="mlops-bot", client_id=APP_ID, app_id=9,
                            repository_selection="selected", permissions={
                                "contents": "write", "pull_requests": "write", "statuses": "write",
                                "issues": "write", "metadata": "read"})
    server.answer("apps/get-repo-installation", installation)
    server.answer("orgs/list-app-installations", {"total_count": 1, "installations": [installation]})


@pytest.fixture
def gh() -> Iterator[DoctorServer]:
    with DoctorServer() as server:
        set_up(server)
        yield server
        assert server.violations == []


@pytest.fixture
def sleeps() -> list[float]:
    return []


def reader(gh: cs.ContractServer, sleeps: list[float], **kwargs: Any) -> GitHubSettings:
    return GitHubSettings(REPO, cs.TOKEN, gh.url, sleep=sleeps.append, clock=lambda: 1_000.0,
                          policy=RetryPolicy(attempts=3, base=0.5, cap=4.0, max_wait=120.0), **kwargs)


def statuses(report: Any) -> dict[str, str]:
    return {f.check: f.status for f in report.findings}


def test_the_settings_operations_are_reads_in_the_fixture() -> None:
    spec = json.loads(cs.SPEC_FILE.read_text("utf-8"))
    for op_id, (template, method) in settings.OPERATIONS.items():
        assert method == "get", op_id
        assert spec["paths"][template][method]["operationId"] == op_id


def test_every_check_passes_on_a_repository_set_up_as_documented(gh: DoctorServer, sleeps: list[float]) -> None:
    with reader(gh, sleeps, app_id=APP_ID, app_private_key=PEM) as source:
        report = run_doctor(source, DoctorOptions(app_id=APP_ID))
    assert statuses(report) == dict.fromkeys(statuses(report), "ok") and len(report.findings) == 6
    assert all(r.method == "GET" for r in gh.requests)
    [(path, claims)] = gh.jwt_claims  # the JWT goes to the installation read only
    assert path == f"/repos/{REPO}/installation" and claims["iss"] == APP_ID
    assert claims["exp"] - claims["iat"] == 540 and claims["iat"] == 940
    read = [r.path for r in gh.calls("repos/get-content")]
    assert read[0] == f"/repos/{REPO}/contents/.github/CODEOWNERS"  # slashes kept: a multi-segment parameter
    assert gh.calls("actions/list-self-hosted-runners-in-group-for-org")[0].path.endswith("/runner-groups/1/runners")
    with reader(gh, sleeps) as source:  # without the key: the organisation's installations, by App id
        assert statuses(run_doctor(source, DoctorOptions(app_id="9")))["app-permissions"] == "ok"
    assert {r.op_id for r in gh.requests} == set(settings.OPERATIONS)
    assert sleeps == []


def test_refusals_become_unknown_or_missing_findings(gh: DoctorServer, sleeps: list[float]) -> None:
    gh.refuse("actions/get-fork-pr-contributor-approval-permissions-repository", 403,
              "Resource not accessible by integration")
    gh.refuse("actions/list-self-hosted-runner-groups-for-org", 403, "Must have admin rights to Repository.")
    gh.refuse("repos/get-environment", 404)
    gh.refuse("orgs/list-app-installations", 404)
    with reader(gh, sleeps) as source:
        report = run_doctor(source, DoctorOptions(app_id="9"))
    found = {f.check: f for f in report.findings}
    assert found["fork-pr-approval"].status == "unknown" and "HTTP 403" in found["fork-pr-approval"].detail
    assert found["runner-groups"].status == "unknown" and "org admin read" in found["runner-groups"].detail
    assert found["bot-environment"].status == "missing"
    assert found["app-permissions"].status == "unknown"
    assert report.exit_code() == 1 and sleeps == []  # plain 403s are not retried


def test_rate_limits_are_waited_out_by_the_retry_policy(gh: DoctorServer, sleeps: list[float]) -> None:
    gh.fail(429, {"retry-after": "3"})
    gh.fail(403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1010"}, message="API rate limit exceeded")
    with reader(gh, sleeps) as source:
        assert source.repo()["default_branch"] == "main"
    assert sleeps == [3.0, 11.0]
    gh.fail(502, times=2)  # two failures, then an answer: within the three attempts
    with reader(gh, sleeps) as source:
        assert statuses(run_doctor(source))["ruleset"] == "ok"
    assert sleeps == [3.0, 11.0, 0.5, 1.0]
    gh.fail(403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "99999"}, message="API rate limit exceeded")
    with reader(gh, sleeps) as source, pytest.raises(ForgeError, match="rate limited for another"):
        source.environment("mlops-bot")


def test_a_server_error_that_outlasts_the_retries_fails_one_check_only(gh: DoctorServer, sleeps: list[float]) -> None:
    with reader(gh, sleeps) as source:
        source.repo()
        gh.fail(503, times=3)
        with pytest.raises(ForgeError, match=r"HTTP 503 Server Error after 3 attempts") as info:
            source.fork_pr_approval()
    assert info.value.status == 503 and sleeps == [0.5, 1.0]


def test_pages_are_followed_on_the_api_origin_only(gh: DoctorServer, sleeps: list[float]) -> None:
    group = instance(gh, "runner-groups-org", id=5, name="more", restricted_to_workflows=True)

    def paged(params: dict[str, str], query: dict[str, str], body: Any) -> Answer:
        if query.get("page") == "2":
            return 200, {}, {"total_count": 2, "runner_groups": [group]}
        link = f'<{gh.url}/orgs/octo-org/actions/runner-groups?page=2&visible_to_repository=models>; rel="next"'
        return 200, {"link": link}, {"total_count": 2, "runner_groups": [instance(gh, "runner-groups-org", id=6)]}

    gh.handlers["actions/list-self-hosted-runner-groups-for-org"] = paged
    with reader(gh, sleeps) as source:
        assert [g["id"] for g in source.runner_groups("octo-org")] == [6, 5]
    calls = gh.calls("actions/list-self-hosted-runner-groups-for-org")
    assert [r.query.get("per_page") for r in calls] == ["100", None]


def test_the_cli_prints_the_table_exits_by_status_and_writes_the_step_summary(
        gh: DoctorServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    for name, value in {"GITHUB_TOKEN": cs.TOKEN, "GITHUB_API_URL": gh.url, "GITHUB_REPOSITORY": REPO,
                        "MLOPS_APP_CLIENT_ID": APP_ID, "MLOPS_APP_PRIVATE_KEY": PEM}.items():
        monkeypatch.setenv(name, value)
    for name in ("GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY", "GH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"mlops doctor: {REPO} (default branch main)") and out.rstrip().endswith("6 ok")
    assert cs.TOKEN not in out and "PRIVATE KEY" not in out

    gh.answer("actions/get-fork-pr-contributor-approval-permissions-repository",
              {"approval_policy": "first_time_contributors"})
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert main(["doctor", "--repository", REPO]) == 1
    out = capsys.readouterr().out
    assert "✗ missing  fork PR approval" in out and "::error title=mlops doctor: fork PR approval::" in out
    assert "| ✗ missing | fork PR approval |" in summary.read_text("utf-8")

    assert main(["doctor", "--json", "--environment", "nope"]) == 1  # the stub answers any name: still 1 missing
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is False and data["counts"]["missing"] == 1 and "::" not in json.dumps(data["findings"][0])


def test_a_bad_app_key_is_reported_without_echoing_it(gh: DoctorServer, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    key = tmp_path / "app.pem"
    key.write_text("-----BEGIN RSA PRIVATE KEY-----\nc2VjcmV0LWtleS1tYXRlcmlhbA==\n-----END RSA PRIVATE KEY-----\n")
    monkeypatch.setenv("GITHUB_TOKEN", cs.TOKEN)
    monkeypatch.setenv("GITHUB_API_URL", gh.url)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    assert main(["doctor", "--repository", REPO, "--app-id", APP_ID, "--app-key-file", str(key), "--json"]) == 0
    captured = capsys.readouterr()
    app = json.loads(captured.out)["findings"][-1]
    assert app["status"] == "unknown" and "private key cannot be read" in app["detail"]
    assert "c2VjcmV0" not in captured.out + captured.err and gh.calls("apps/get-repo-installation") == []


def test_an_unreadable_repository_is_one_error_line(gh: DoctorServer, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    gh.refuse("repos/get", 404)
    monkeypatch.setenv("GITHUB_TOKEN", cs.TOKEN)
    monkeypatch.setenv("GITHUB_API_URL", gh.url)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    assert main(["doctor", "--repository", REPO]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot read the repository octo-org/models" in err and "HTTP 404" in err
    monkeypatch.setenv("GITHUB_TOKEN", "wrong-token")
    assert main(["doctor", "--repository", REPO]) == 1
    err = capsys.readouterr().err
    assert "HTTP 401 Bad credentials" in err and "wrong-token" not in err


# -- malformed answers (a transport that answers what GitHub's description forbids) ---------------------

def mock(answer: Callable[[httpx.Request], httpx.Response]) -> GitHubSettings:
    return GitHubSettings(REPO, cs.TOKEN, "https://api.example.test", transport=httpx.MockTransport(answer),
                          sleep=lambda s: None)


@pytest.mark.parametrize(("call", "response", "message"), [
    (lambda s: s.repo(), httpx.Response(200, text="<html>"), "is not JSON"),
    (lambda s: s.repo(), httpx.Response(200, json=[1]), "expected a JSON object, got list"),
    (lambda s: s.branch_rules("main"), httpx.Response(200, json={"rules": []}), "expected a JSON array"),
    (lambda s: s.runner_groups("o"), httpx.Response(200, json=[]), "an object with a 'runner_groups' array"),
    (lambda s: s.codeowners_errors("main"), httpx.Response(200, json={}), "no 'errors' list"),
    (lambda s: s.file_text("CODEOWNERS", "main"), httpx.Response(200, json={"type": "dir"}), "is a dir, not a file"),
    (lambda s: s.file_text("CODEOWNERS", "main"), httpx.Response(200, json={"type": "file", "encoding": "none"}),
     "did not return its content"),
    (lambda s: s.file_text("CODEOWNERS", "main"),
     httpx.Response(200, json={"type": "file", "encoding": "base64", "content": "//79"}), "not base64-encoded UTF-8"),
    (lambda s: s.workflows(), httpx.Response(200, json={"workflows": []}, headers={
        "link": '<https://evil.example/next?page=2>; rel="next"'}), "points to another host"),
])
def test_malformed_answers_are_errors_not_crashes(call: Callable[[GitHubSettings], Any], response: httpx.Response,
                                                  message: str) -> None:
    with mock(lambda request: response) as source, pytest.raises(ForgeError, match=message):
        call(source)


def test_the_token_and_key_stay_out_of_reprs_and_the_jwt_is_rs256() -> None:
    source = GitHubSettings(REPO, cs.TOKEN, app_id="12", app_private_key=PEM)
    assert cs.TOKEN not in repr(source) and "PRIVATE" not in repr(source) and source.has_app_key
    header, claims, _ = app_jwt("12", PEM, 2_000.0).split(".")
    assert json.loads(_b64(header)) == {"alg": "RS256", "typ": "JWT"}
    assert json.loads(_b64(claims)) == {"iat": 1940, "exp": 2480, "iss": 12}
    source.close()
    with pytest.raises(ForgeError, match="not 'owner/name'"):
        GitHubSettings("nope", cs.TOKEN)
    with pytest.raises(ForgeError, match="no GitHub token"):
        GitHubSettings(REPO, "")
    with pytest.raises(ForgeError, match="is not an http"):
        GitHubSettings(REPO, cs.TOKEN, "ftp://x")
    with pytest.raises(ForgeError, match="no GitHub App id and private key"):
        GitHubSettings(REPO, cs.TOKEN).app_installation()

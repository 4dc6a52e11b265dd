"""Reading the workflow's event payload (real payloads from @octokit/webhooks-examples) and picking a forge."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops.adapters.forge import Event, forge_from_env, read_event, short_description, upsert_comment
from mlops.adapters.forge.github import GitHubForge
from mlops.adapters.forge.local import LocalForge
from mlops.core.errors import UserError

EVENTS = Path(__file__).resolve().parents[3] / "fixtures" / "github" / "events"


def env_for(path: Path, name: str) -> dict[str, str]:
    return {"GITHUB_EVENT_PATH": str(path), "GITHUB_EVENT_NAME": name, "GITHUB_SHA": "f" * 40}


def test_pull_request_opened_gives_number_branch_and_head_sha() -> None:
    event = read_event(env_for(EVENTS / "pull_request.opened.json", "pull_request"))
    assert event == Event("pull_request", 2, "changes", "ec26c3e57ca3a959ca5aad62de7213c562f8c821", False,
                          "f95f852bd8fca8fcc58a9a2d6c842781e32a215e")


def test_pull_request_synchronize_is_read_the_same_way() -> None:
    event = read_event(env_for(EVENTS / "pull_request.synchronize.json", "pull_request"))
    assert event is not None and event.pr == 2 and event.branch == "changes" and not event.from_fork


def test_a_fork_pull_request_is_recognised(tmp_path: Path) -> None:
    payload = json.loads((EVENTS / "pull_request.opened.json").read_text())
    payload["pull_request"]["head"]["repo"]["full_name"] = "someone/Hello-World"
    path = tmp_path / "event.json"
    path.write_text(json.dumps(payload))
    event = read_event(env_for(path, "pull_request_target"))
    assert event is not None and event.from_fork and event.name == "pull_request_target"


def test_workflow_dispatch_reads_the_pr_input(tmp_path: Path) -> None:
    plain = read_event(env_for(EVENTS / "workflow_dispatch.json", "workflow_dispatch"))
    assert plain == Event("workflow_dispatch", None, "main", "f" * 40)
    payload = json.loads((EVENTS / "workflow_dispatch.json").read_text())
    payload["inputs"] = {"pr": "17"}  # what a maintainer types into the form
    path = tmp_path / "event.json"
    path.write_text(json.dumps(payload))
    event = read_event(env_for(path, "workflow_dispatch"))
    assert event is not None and event.pr == 17


def test_push_gives_the_branch_and_no_pr() -> None:
    event = read_event(env_for(EVENTS / "push.json", "push"))
    assert event == Event("push", None, "master", "6113728f27ae82c7b1a177c8d03f9e96e0adf246")


def test_no_event_outside_actions_and_a_clear_error_for_a_broken_file(tmp_path: Path) -> None:
    assert read_event({}) is None
    bad = tmp_path / "event.json"
    bad.write_text("{not json")
    with pytest.raises(UserError, match="cannot read the event payload"):
        read_event({"GITHUB_EVENT_PATH": str(bad)})


def test_forge_from_env_picks_github_only_with_token_and_repository(tmp_path: Path) -> None:
    assert isinstance(forge_from_env(tmp_path, {}), LocalForge)
    assert isinstance(forge_from_env(tmp_path, {"GITHUB_TOKEN": "t"}), LocalForge)
    forge = forge_from_env(tmp_path, {"GITHUB_TOKEN": "secret-token", "GITHUB_REPOSITORY": "o/r",
                                      "GITHUB_API_URL": "https://ghe.example.com/api/v3"})
    assert isinstance(forge, GitHubForge)
    assert "secret-token" not in repr(forge) and "ghe.example.com/api/v3" in repr(forge)
    forge.close()


def test_short_description_is_one_line_of_at_most_140_characters() -> None:
    text = short_description("a\nb  " + "x" * 200)
    assert len(text) == 140 and "\n" not in text and text.startswith("a b x") and text.endswith("…")


class Recording:
    """A minimal in-memory forge to check upsert_comment's decisions."""

    def __init__(self) -> None:
        self.bodies: dict[int, str] = {}
        self.writes = 0

    def find_comment(self, pr: int, marker: str):  # type: ignore[no-untyped-def]
        from mlops.adapters.forge import Comment

        return next((Comment(i, b) for i, b in self.bodies.items() if b.startswith(marker)), None)

    def create_comment(self, pr: int, body: str):  # type: ignore[no-untyped-def]
        from mlops.adapters.forge import Comment

        self.writes += 1
        self.bodies[len(self.bodies) + 1] = body
        return Comment(len(self.bodies), body)

    def update_comment(self, comment_id: int, body: str):  # type: ignore[no-untyped-def]
        from mlops.adapters.forge import Comment

        self.writes += 1
        self.bodies[comment_id] = body
        return Comment(comment_id, body)


def test_upsert_creates_then_updates_then_skips_identical_content() -> None:
    forge = Recording()
    _, first = upsert_comment(forge, 1, "<!-- m -->", "<!-- m -->\nv1")  # type: ignore[arg-type]
    _, second = upsert_comment(forge, 1, "<!-- m -->", "<!-- m -->\nv2")  # type: ignore[arg-type]
    _, third = upsert_comment(forge, 1, "<!-- m -->", "<!-- m -->\nv2\n")  # type: ignore[arg-type]
    assert (first, second, third) == ("created", "updated", "unchanged")
    assert forge.writes == 2 and list(forge.bodies.values()) == ["<!-- m -->\nv2"]


def test_upsert_puts_the_marker_first_when_missing() -> None:
    forge = Recording()
    comment, _ = upsert_comment(forge, 1, "<!-- m -->", "body")  # type: ignore[arg-type]
    assert comment.body == "<!-- m -->\nbody"

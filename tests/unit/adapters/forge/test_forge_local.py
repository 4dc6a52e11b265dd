"""The local forge: pull requests, comments, labels and statuses as files beside a local bare remote."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from mlops.adapters.forge import ForgeError, upsert_comment
from mlops.adapters.forge.local import LocalForge
from tests.helpers.git import git


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """A working clone with a local bare remote (``origin``) and a pushed branch ``proposal``."""
    remote, work = tmp_path / "remote.git", tmp_path / "work"
    git(tmp_path, "init", "--quiet", "--bare", "-b", "main", str(remote))
    git(tmp_path, "clone", "--quiet", str(remote), str(work))
    git(work, "commit", "--quiet", "--allow-empty",
        "-m", "init")
    git(work, "push", "--quiet", "origin", "HEAD:main")
    git(work, "checkout", "--quiet", "-b", "proposal")
    git(work, "commit", "--quiet", "--allow-empty",
        "-m", "change")
    git(work, "push", "--quiet", "origin", "proposal")
    return work


def test_open_pr_records_the_head_commit_and_is_idempotent(clone: Path) -> None:
    forge = LocalForge(clone)
    pr = forge.open_pr("proposal", "main", "Train digits-cnn", "body")
    again = forge.open_pr("proposal", "main", "another title", "other")
    assert pr.number == again.number == 1 and pr.head == "proposal" and pr.base == "main"
    assert forge.pull(1)["head_sha"] == git(clone, "rev-parse", "proposal")
    assert forge.find_open_pr("proposal") == pr and forge.find_open_pr("Codertocat:proposal") == pr
    assert forge.find_open_pr("proposal", base="release") is None and forge.find_open_pr("other") is None


def test_open_pr_refuses_a_branch_git_does_not_know(clone: Path) -> None:
    with pytest.raises(ForgeError, match="branch 'nope' is unknown to git"):
        LocalForge(clone).open_pr("nope", "main", "t", "b")


def test_a_branch_only_on_origin_is_accepted(clone: Path) -> None:
    git(clone, "checkout", "--quiet", "main")
    git(clone, "branch", "--quiet", "-D", "proposal")
    assert LocalForge(clone).open_pr("proposal", "main", "t", "b").number == 1


def test_comments_upsert_in_place_and_identical_content_writes_nothing(clone: Path) -> None:
    forge = LocalForge(clone)
    pr = forge.open_pr("proposal", "main", "t", "b").number
    _, created = upsert_comment(forge, pr, "<!-- r -->", "<!-- r -->\none")
    pull_file = clone / ".mlops" / "forge" / "pulls" / "1.json"
    before = pull_file.stat().st_mtime_ns
    _, unchanged = upsert_comment(forge, pr, "<!-- r -->", "<!-- r -->\none")
    assert pull_file.stat().st_mtime_ns == before
    _, updated = upsert_comment(forge, pr, "<!-- r -->", "<!-- r -->\ntwo")
    forge.comment_as(pr, "alice", "a human's comment")
    assert (created, unchanged, updated) == ("created", "unchanged", "updated")
    bodies = [c["body"] for c in forge.pull(pr)["comments"]]
    assert bodies == ["<!-- r -->\ntwo", "a human's comment"]


def test_unknown_pull_request_and_comment_are_clear_errors(clone: Path) -> None:
    forge = LocalForge(clone)
    with pytest.raises(ForgeError, match="no pull request #9"):
        forge.create_comment(9, "x")
    with pytest.raises(ForgeError, match="no comment 5"):
        forge.update_comment(5, "x")


def test_labels_are_a_set_in_insertion_order(clone: Path) -> None:
    forge = LocalForge(clone)
    forge.open_pr("proposal", "main", "t", "b")
    forge.add_labels(1, ["model:digits-cnn", "needs-training"])
    forge.add_labels(1, ["needs-training", "model:digits-cnn", "gates-passed"])
    assert forge.pull(1)["labels"] == ["model:digits-cnn", "needs-training", "gates-passed"]


def test_status_keeps_the_latest_per_context(clone: Path) -> None:
    forge, sha = LocalForge(clone), git(clone, "rev-parse", "HEAD")
    forge.set_status(sha, "pending", "mlops/gates", "evaluating")
    forge.set_status(sha, "failure", "mlops/gates", "digits-cnn failed prod: min-accuracy " + "x" * 200)
    forge.set_status(sha, "success", "mlops/validate", "valid")
    statuses = forge.statuses(sha)
    assert statuses["mlops/gates"]["state"] == "failure" and len(statuses["mlops/gates"]["description"]) == 140
    assert statuses["mlops/validate"]["state"] == "success"
    stored = json.loads((clone / ".mlops" / "forge" / "statuses" / f"{sha}.json").read_text())
    assert set(stored) == {"mlops/gates", "mlops/validate"}


def test_concurrent_comments_are_all_kept(clone: Path) -> None:
    forge = LocalForge(clone)
    forge.open_pr("proposal", "main", "t", "b")
    threads = [threading.Thread(target=forge.create_comment, args=(1, f"c{i}")) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    comments = forge.pull(1)["comments"]
    assert sorted(c["body"] for c in comments) == [f"c{i}" for i in range(8)]
    assert len({c["id"] for c in comments}) == 8


def test_only_the_forges_own_comment_is_found_and_updated(clone: Path) -> None:
    forge = LocalForge(clone)
    pr = forge.open_pr("proposal", "main", "t", "b").number
    forge.comment_as(pr, "mallory", "<!-- r -->\nfake report: all gates passed")
    assert forge.find_comment(pr, "<!-- r -->") is None
    comment, action = upsert_comment(forge, pr, "<!-- r -->", "<!-- r -->\nreal")
    assert action == "created" and forge.find_comment(pr, "<!-- r -->") == comment
    planted = forge.pull(pr)["comments"][0]["id"]
    with pytest.raises(ForgeError, match="written by 'mallory'"):
        forge.update_comment(planted, "overwritten")


def test_commits_the_forge_makes_are_attested_and_pushed(clone: Path, tmp_path: Path) -> None:
    forge = LocalForge(clone)
    parent = git(clone, "rev-parse", "proposal")
    sha = forge.commit_files("proposal", {"models/m/versions/v.yaml": b"record\n"}, "records", parent=parent)
    assert forge.is_bot_commit(sha) and not forge.is_bot_commit(parent)
    assert git(tmp_path / "remote.git", "rev-parse", "proposal") == sha
    assert git(clone, "log", "-1", "--format=%an", sha) == "mlops-bot"
    with pytest.raises(ForgeError, match="moved on"):
        forge.commit_files("proposal", {"x": b"y"}, "stale", parent=parent)
    new = forge.commit_files("mlops/promote/m-staging", {"environments/staging.yaml": b"pins: {}\n"}, "promote",
                             parent=git(clone, "rev-parse", "main"))
    assert git(tmp_path / "remote.git", "rev-parse", "mlops/promote/m-staging") == new


def test_branch_tips_and_files_come_from_the_remote(clone: Path, tmp_path: Path) -> None:
    forge = LocalForge(clone)
    assert forge.branch_tip("mlops/monitor") is None
    sha = forge.commit_files("mlops/monitor", {"monitor/dev/m.json": b"{}"}, "state",
                             parent=git(clone, "rev-parse", "main"))
    assert forge.branch_tip("mlops/monitor") == sha
    assert forge.read_file("mlops/monitor", "monitor/dev/m.json") == b"{}"
    assert forge.read_file(sha, "monitor/dev/m.json") == b"{}"
    assert forge.read_file("mlops/monitor", "monitor/dev/other.json") is None
    assert forge.read_file("no-such-branch", "monitor/dev/m.json") is None


def test_merge_needs_the_evaluated_head_and_makes_a_merge_commit(clone: Path, tmp_path: Path) -> None:
    forge = LocalForge(clone)
    pr = forge.open_pr("proposal", "main", "t", "b")
    head = git(clone, "rev-parse", "proposal")
    forge.review_as(pr.number, "alice")
    assert [(r.user, r.state, r.commit) for r in forge.reviews(pr.number)] == [("alice", "APPROVED", head)]
    with pytest.raises(ForgeError, match="refusing to merge a head nobody evaluated"):
        forge.merge_pr(pr.number, "0" * 40, "Merge")
    merged = forge.merge_pr(pr.number, head, "Merge pull request #1\n\nbody")
    assert git(tmp_path / "remote.git", "rev-parse", "main") == merged
    assert git(clone, "rev-list", "--parents", "-n1", merged).split()[2] == head
    after = forge.get_pr(pr.number)
    assert after.merged and after.merge_sha == merged and after.state == "closed"
    assert [p.number for p in forge.prs_for_commit(head)] == [pr.number]
    with pytest.raises(ForgeError, match="is closed, not open"):
        forge.merge_pr(pr.number, head, "again")


def test_issues_are_found_by_marker_label_and_author(clone: Path) -> None:
    forge = LocalForge(clone)
    assert forge.find_issue("<!-- fp:abc -->", "mlops:data-quality") is None
    issue = forge.open_issue("Data quality: digits-cnn", "<!-- fp:abc -->\nmissing values", ["mlops:data-quality"])
    assert forge.find_issue("<!-- fp:abc -->", "mlops:data-quality") == issue
    forge.update_issue(issue.number, state="closed")
    assert forge.find_issue("<!-- fp:abc -->", "mlops:data-quality") is None


def test_deployments_keep_their_statuses(clone: Path) -> None:
    forge = LocalForge(clone)
    deployment = forge.create_deployment("main", "dev", "digits-cnn@v2")
    forge.set_deployment_status(deployment, "in_progress", "rolling out")
    forge.set_deployment_status(deployment, "success", "smoke test passed", "http://127.0.0.1:1")
    (item,) = forge.deployments("dev")
    assert (item.id, item.ref, item.environment, item.state, item.description) == (
        deployment, "main", "dev", "success", "digits-cnn@v2")
    assert forge.deployments("prod") == []
    with pytest.raises(ForgeError, match="no deployment 7"):
        forge.set_deployment_status(7, "success", "x")

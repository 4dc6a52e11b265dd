"""GitScm against real repositories: a work tree (sometimes a sub-directory of it) and a bare remote."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from mlops.adapters.scm import BOT, Identity, ScmError, open_scm, try_open_scm
from mlops.adapters.scm.gitpython import GitScm
from mlops.core.errors import UsageError
from tests.helpers.git import commit_all, git, init_repo, with_origin


@pytest.fixture
def work(tmp_path: Path) -> Path:
    repo = tmp_path / "work"
    (repo / "environments").mkdir(parents=True)
    (repo / "environments" / "dev.yaml").write_text("# dev\npins: {}\n")
    (repo / "README.md").write_text("hello\n")
    init_repo(repo)
    with_origin(repo, tmp_path / "origin.git")
    return repo


def test_outside_git_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="is not inside a git repository"):
        open_scm(tmp_path)
    assert try_open_scm(tmp_path) is None


def test_reading(work: Path) -> None:
    scm = open_scm(work)
    base = scm.require("main")
    assert scm.head() == base and scm.branch() == "main" and not scm.dirty()
    assert scm.resolve("no-such-branch") is None and scm.resolve("--help") is None
    with pytest.raises(UsageError, match=r"unknown git revision 'nope'.*git fetch origin main"):
        scm.require("nope")
    (work / "environments" / "dev.yaml").write_text("pins: {a: 1}\n")
    (work / "environments" / "staging.yaml").write_text("new\n")
    assert scm.dirty()
    assert scm.read("main", "environments/dev.yaml") == b"# dev\npins: {}\n"
    assert scm.read("main", "environments/missing.yaml") is None
    changes = {(c.status, c.path) for c in scm.changed("main", paths=["environments"], untracked=True)}
    assert changes == {("M", "environments/dev.yaml"), ("?", "environments/staging.yaml")}
    assert [c.path for c in scm.changed("main", paths=["environments/*.yaml"])] == ["environments/dev.yaml"]
    head = commit_all(work, "second\n\nwith a body")
    assert scm.merge_base("main", "origin/main") == base
    assert {c.path for c in scm.changed(base, head)} == {"environments/dev.yaml", "environments/staging.yaml"}
    log = scm.log(["environments/staging.yaml"])
    assert [c.sha for c in log] == [head] and log[0].subject == "second" and log[0].message.endswith("with a body")
    assert log[0].author == Identity("t", "t@example.com") and log[0].parents == (base,)
    assert [c.sha for c in scm.log()] == [head, base]
    assert scm.log(rev="no-such-branch") == []
    assert scm.list_paths("HEAD", ["environments", "models"]) == ["environments"]
    assert scm.remote_url() == str(work.parent / "origin.git")


def test_a_sub_directory_root_sees_paths_relative_to_itself(tmp_path: Path) -> None:
    top = tmp_path / "mono"
    (top / "ml" / "environments").mkdir(parents=True)
    (top / "ml" / "environments" / "dev.yaml").write_text("a\n")
    (top / "other.txt").write_text("x\n")
    init_repo(top)
    scm = open_scm(top / "ml")
    assert scm.read("HEAD", "environments/dev.yaml") == b"a\n"
    (top / "ml" / "environments" / "dev.yaml").write_text("b\n")
    (top / "other.txt").write_text("y\n")
    assert [c.path for c in scm.changed("HEAD")] == ["environments/dev.yaml"]
    exported = scm.export("HEAD", ["environments"], tmp_path / "out")
    assert (exported / "environments" / "dev.yaml").read_text() == "a\n"
    sha = scm.commit_files("bot", {"environments/dev.yaml": b"c\n"}, "bot change", author=BOT, start="HEAD")
    assert git(top, "show", f"{sha}:ml/environments/dev.yaml") == "c"


def test_commit_files_on_another_branch_leaves_the_work_tree_alone(work: Path) -> None:
    scm = open_scm(work)
    base = scm.require("HEAD")
    (work / "README.md").write_text("local edit\n")
    sha = scm.commit_files("mlops/promote/x", {"environments/dev.yaml": b"pins: {x: 2}\n",
                                               "environments/prod.yaml": b"new\n", "README.md": None},
                           "promote x", author=BOT, start="main")
    assert git(work, "rev-parse", "mlops/promote/x") == sha and git(work, "rev-parse", f"{sha}^") == base
    assert git(work, "log", "-1", "--format=%an <%ae>|%cn|%s", sha) == f"{BOT}|{BOT.name}|promote x"
    assert git(work, "show", "--name-status", "--format=", sha).splitlines() == [
        "D\tREADME.md", "M\tenvironments/dev.yaml", "A\tenvironments/prod.yaml"]
    assert (work / "README.md").read_text() == "local edit\n" and scm.branch() == "main"
    assert git(work, "diff", "--cached", "--name-only") == ""
    second = scm.commit_files("mlops/promote/x", {"environments/prod.yaml": b"newer\n"}, "again")
    assert git(work, "rev-parse", f"{second}^") == sha


def test_commit_files_on_the_checked_out_branch_commits_only_those_paths(work: Path) -> None:
    scm = open_scm(work)
    (work / "README.md").write_text("unrelated edit\n")
    sha = scm.commit_files("main", {"environments/dev.yaml": b"pins: {y: 1}\n"}, "record", author=BOT)
    assert scm.head() == sha and (work / "environments" / "dev.yaml").read_text() == "pins: {y: 1}\n"
    assert git(work, "status", "--porcelain") == "M README.md"


def test_hooks_never_run_for_the_bots_commits(work: Path) -> None:
    hook = work / ".git" / "hooks" / "pre-commit"
    hook.write_text(f"#!/bin/sh\ntouch {work.parent / 'HOOK-RAN'}\nexit 1\n")
    hook.chmod(0o755)
    open_scm(work).commit_files("main", {"a.txt": b"a\n"}, "no hook", author=BOT)
    assert not (work.parent / "HOOK-RAN").exists()


def test_revert_a_pin_change(work: Path) -> None:
    scm = open_scm(work)
    (work / "environments" / "dev.yaml").write_text("# dev\npins: {m: v2}\n")
    promote = commit_all(work, "pin m v2")
    (work / "README.md").write_text("later, unrelated\n")
    commit_all(work, "later")
    git(work, "checkout", "-q", "-b", "feature")
    new = scm.revert(promote, onto="main", author=BOT)
    assert git(work, "show", f"{new}:environments/dev.yaml") == "# dev\npins: {}"
    assert git(work, "show", f"{new}:README.md") == "later, unrelated"
    assert scm.commit_info(new).subject == 'Revert "pin m v2"' and f"reverts commit {promote}" in \
        scm.commit_info(new).message
    assert git(work, "worktree", "list").count("\n") == 0  # the temporary work tree is gone


def test_revert_that_conflicts_is_one_error(work: Path) -> None:
    scm = open_scm(work)
    (work / "environments" / "dev.yaml").write_text("pins: {m: v2}\n")
    promote = commit_all(work, "pin v2")
    (work / "environments" / "dev.yaml").write_text("pins: {m: v3}\n")
    commit_all(work, "pin v3")
    before = scm.head()
    with pytest.raises(ScmError, match="conflicts with later changes"):
        scm.revert(promote, onto="main")
    assert scm.head() == before and not scm.dirty()


def test_revert_on_the_checked_out_branch_updates_the_work_tree(work: Path) -> None:
    scm = open_scm(work)
    (work / "environments" / "dev.yaml").write_text("pins: {m: v2}\n")
    promote = commit_all(work, "pin v2")
    scm.revert(promote, onto="main", author=BOT)
    assert (work / "environments" / "dev.yaml").read_text() == "# dev\npins: {}\n" and not scm.dirty()


def test_push_with_a_token_never_stores_or_shows_it(work: Path, tmp_path: Path) -> None:
    scm = open_scm(work)
    token = "ghs_" + "s3cr3t" * 6
    sha = scm.commit_files("mlops/retrain/m", {"x.txt": b"x\n"}, "x", author=BOT, start="main")
    scm.push("refs/heads/mlops/retrain/m:refs/heads/mlops/retrain/m", token=token)
    assert git(tmp_path / "origin.git", "rev-parse", "refs/heads/mlops/retrain/m") == sha
    config = (work / ".git" / "config").read_text()
    assert token not in config and "extraheader" not in config
    git(work, "remote", "set-url", "origin", str(tmp_path / "missing.git"))
    with pytest.raises(ScmError) as err:
        scm.push("main:main", token=token)
    assert token not in str(err.value) and "`git push` failed" in str(err.value)


def test_the_token_reaches_git_as_a_header_for_that_call_only(work: Path, tmp_path: Path) -> None:
    """An HTTP remote sees the header; the command line (the process list) never holds the token."""
    log = tmp_path / "args.log"
    fake = tmp_path / "bin"
    fake.mkdir()
    real = subprocess.run(["sh", "-c", "command -v git"], capture_output=True, text=True, check=True).stdout.strip()
    (fake / "git").write_text(f'#!/bin/sh\necho "$@" >> {log}\nenv | grep -c GIT_CONFIG_VALUE >> {log}\n'
                              f'exec {real} "$@"\n')
    (fake / "git").chmod(0o755)
    scm = GitScm(work)
    old = os.environ["PATH"]
    os.environ["PATH"] = f"{fake}:{old}"
    try:
        scm.push("main:refs/heads/copy", token="ghs_tokenvalue123")
    finally:
        os.environ["PATH"] = old
    text = log.read_text()
    assert "ghs_tokenvalue123" not in text and "push" in text

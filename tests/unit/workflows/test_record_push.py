"""The `record` job's commit-and-push step, run with bash against a real origin repository."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from workflow_harness import run_workflow_step

from tests.helpers.git import git

STEP = ("mlops-pr.yml", "record", "Commit and push them to the PR branch")



class Checkout:
    """A bare origin with the PR branch, and a detached checkout of its head, as actions/checkout leaves it."""

    def __init__(self, tmp: Path, branch: str) -> None:
        self.tmp, self.branch = tmp, branch
        self.origin = tmp / "origin.git"
        seed = tmp / "seed"
        seed.mkdir()
        git(seed, "init", "-q", "-b", branch)
        (seed / "models" / "alpha" / "versions").mkdir(parents=True)
        (seed / "models" / "alpha" / "model.yaml").write_text("name: alpha\n")
        (seed / "models" / "alpha" / "versions" / ".gitignore").write_text("")
        git(seed, "add", "-A")
        git(seed, "commit", "-q", "-m", "change alpha")
        subprocess.run(["git", "clone", "-q", "--bare", str(seed), str(self.origin)], check=True)
        self.work = tmp / "work"
        subprocess.run(["git", "clone", "-q", str(self.origin), str(self.work)], check=True)
        self.head = git(self.work, "rev-parse", "HEAD")
        git(self.work, "checkout", "-q", "--detach", self.head)

    def download(self, files: dict[str, str]) -> None:
        """What actions/download-artifact leaves: the files the training jobs copied, at their repository paths."""
        for path, text in files.items():
            target = self.work / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)

    def run(self, expected: str | None = None) -> subprocess.CompletedProcess[str]:
        env = {"TOKEN": "ghs_fake", "APP_SLUG": "mlops-bot", "EXPECTED": expected or self.head,
               "HEAD_REF": self.branch}
        return run_workflow_step(*STEP, env=env, cwd=self.work, tmp=self.tmp)

    def origin_head(self) -> str:
        return git(self.origin, "rev-parse", f"refs/heads/{self.branch}")


RECORD = {"models/alpha/versions/20261201-0123abcd.yaml": "model: alpha\n",
          "models/alpha/versions/20261201-0123abcd.dvc": "outs: []\n",
          "models/alpha/versions/.gitignore": "/20261201-0123abcd\n"}


@pytest.mark.parametrize("branch", ["feature/alpha", "x;touch${IFS}pwned;`touch${IFS}pwned2`"])
def test_the_records_are_committed_on_the_pr_head_and_pushed(tmp_path: Path, branch: str) -> None:
    co = Checkout(tmp_path, branch)
    co.download(RECORD)
    proc = co.run()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    new = co.origin_head()
    assert git(co.origin, "rev-parse", f"{new}^") == co.head
    assert sorted(git(co.origin, "diff", "--name-only", co.head, new).splitlines()) == sorted(RECORD)
    assert git(co.origin, "log", "-1", "--format=%an|%s", new) == f"mlops-bot[bot]|mlops: version records trained " \
                                                                  f"from {co.head[:12]}"
    assert "::add-mask::" in proc.stdout and "ghs_fake" not in proc.stdout + proc.stderr
    assert not list(tmp_path.rglob("pwned*"))


def test_a_moved_head_is_refused_and_nothing_is_pushed(tmp_path: Path) -> None:
    co = Checkout(tmp_path, "feature")
    co.download(RECORD)
    proc = co.run(expected="0" * 40)
    assert proc.returncode == 1
    assert "::error title=stale commit::" in proc.stdout
    assert co.origin_head() == co.head


def test_nothing_but_files_directly_under_versions_is_committed(tmp_path: Path) -> None:
    co = Checkout(tmp_path, "feature")
    co.download({**RECORD, "models/alpha/versions/nested/x.yaml": "x: 1\n"})
    proc = co.run()
    assert proc.returncode == 1
    assert "::error title=unexpected files::" in proc.stdout
    assert co.origin_head() == co.head


def test_no_new_record_is_an_error(tmp_path: Path) -> None:
    co = Checkout(tmp_path, "feature")
    co.download({"models/alpha/versions/.gitignore": "/x\n"})
    proc = co.run()
    assert proc.returncode == 1
    assert "::error title=no records::" in proc.stdout
    assert co.origin_head() == co.head

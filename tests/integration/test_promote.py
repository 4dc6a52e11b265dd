"""Promotion pull requests on real git, real training and the local forge: evidence, confidence, idempotence."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mlops.adapters.forge.local import LocalForge
from tests.conftest import run_cli
from tests.helpers.git import commit_all, git, init_repo, with_origin

MODEL = "cancer-mlp"


@pytest.fixture
def trained(example_repo: Path, tmp_path: Path) -> tuple[Path, str]:
    init_repo(example_repo, gitignore="/data/\n/.mlops/\n__pycache__/\n")
    with_origin(example_repo, tmp_path / "origin.git")
    result = run_cli("train", MODEL, "--repo", str(example_repo), "--epochs", "8", "--device", "cpu", "--threads",
                     "1", "--no-push", "--json", env={**os.environ, "CI": "true"})
    assert result.code == 0, result.err
    version = json.loads(result.out)["version"]
    dev = example_repo / "environments" / "dev.yaml"
    dev.write_text(dev.read_text().replace("pins: {}", f"pins: {{{MODEL}: {version}}}"))
    commit_all(example_repo, f"{MODEL} {version} in dev")
    git(example_repo, "push", "-q", "origin", "main")
    return example_repo, version


@pytest.mark.slow
def test_a_confident_promotion_merges_itself_and_production_waits(trained: tuple[Path, str], tmp_path: Path) -> None:
    repo, version = trained
    deploy = tmp_path / "deploy-dev.json"
    deploy.write_text(json.dumps({"ok": True, "mode": "local", "result": {"models": [
        {"model": MODEL, "version": version, "smoke": "passed"}]}}))
    promoted = run_cli("promote", MODEL, "--to", "staging", "--deploy-result", str(deploy), "--repo", str(repo))
    assert promoted.code == 0, promoted.err
    assert f"{MODEL}@{version} dev → staging: PR #1 merged by policy" in promoted.out
    (pull,) = LocalForge(repo).pulls()
    assert pull["head"] == f"mlops/promote/{MODEL}-staging" and pull["merged"]
    assert f"deployed `{version}` in dev (local mode): smoke test passed" in pull["body"]
    assert "every gate passed with confidence" in pull["body"] and "[" in pull["body"]  # intervals shown
    git(repo, "checkout", "-q", "main")
    assert f"pins: {{{MODEL}: {version}}}" in (repo / "environments/staging.yaml").read_text()
    assert LocalForge(repo).statuses(pull["head_sha"])["mlops/gates"]["state"] == "success"

    again = run_cli("promote", MODEL, "--to", "staging", "--repo", str(repo))
    assert again.code == 1 and f"staging already pins {MODEL} at {version}" in again.err

    prod = run_cli("promote", MODEL, "--to", "prod", "--deploy-result", str(deploy), "--repo", str(repo))
    assert prod.code == 0, prod.err
    assert "PR #2 waits for review (prod is production: its approvers review every promotion)" in prod.out
    twice = run_cli("promote", MODEL, "--to", "prod", "--deploy-result", str(deploy), "--repo", str(repo))
    assert twice.code == 0 and "PR #2 waits for review" in twice.out  # updated, never duplicated
    assert [p["number"] for p in LocalForge(repo).pulls()] == [1, 2]


@pytest.mark.slow
def test_a_failed_source_deploy_is_never_promoted_by_itself(trained: tuple[Path, str], tmp_path: Path) -> None:
    repo, version = trained
    deploy = tmp_path / "deploy-dev.json"
    deploy.write_text(json.dumps({"ok": False, "mode": "local", "result": {"models": [
        {"model": MODEL, "version": version, "smoke": "inference answered 500"}]}}))
    promoted = run_cli("promote", MODEL, "--to", "staging", "--deploy-result", str(deploy), "--repo", str(repo))
    assert promoted.code == 0, promoted.err
    assert "waits for review (the deploy in dev failed)" in promoted.out
    assert run_cli("promote", "nope", "--to", "staging", "--repo", str(repo)).code == 1
    first = run_cli("promote", MODEL, "--to", "dev", "--repo", str(repo))
    assert first.code == 1 and "dev is promoted from nothing" in first.err

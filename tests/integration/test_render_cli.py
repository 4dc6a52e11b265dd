"""`mlops render` as a user runs it: exit codes, messages, --check, and kubectl kustomize on the output."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import run_cli

V1 = "20250101-aaaaaaaa"


def _pin(repo: Path) -> Path:
    for env, pins in {"dev": {"digits-cnn": V1, "cancer-mlp": V1}, "prod": {"digits-cnn": V1}}.items():
        path = repo / "environments" / f"{env}.yaml"
        path.write_text(path.read_text().replace("pins: {}", "pins: " + yaml.safe_dump(pins, default_flow_style=True)))
    return repo


def _clean(result_err: str) -> None:
    assert "Traceback" not in result_err


def test_render_writes_every_environment_and_check_passes(example_repo: Path) -> None:
    _pin(example_repo)
    result = run_cli("render", "--repo", str(example_repo), "--out", str(example_repo / "deploy"))
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0].startswith("dev: 2 models (cancer-mlp@20250101-aaaaaaaa, digits-cnn@20250101-aaaaaaaa), 16 files")
    assert lines[1].startswith("staging: no models pinned; rendered only the namespace and kustomization")
    assert (example_repo / "deploy" / "prod" / "digits-cnn" / "deployment.yaml").is_file()
    check = run_cli("render", "--repo", str(example_repo), "--check", str(example_repo / "deploy"))
    assert check.code == 0, check.err
    assert check.out.startswith("ok:")


def test_default_out_dir_is_build_manifests(example_repo: Path) -> None:
    result = run_cli("render", "--env", "dev", cwd=example_repo)
    assert result.code == 0, result.err
    assert "no models pinned" in result.out
    assert sorted(p.name for p in (example_repo / "build" / "manifests" / "dev").iterdir()) == [
        "kustomization.yaml", "namespace.yaml"]


def test_check_fails_one_line_per_file_and_writes_nothing(example_repo: Path) -> None:
    _pin(example_repo)
    out = example_repo / "deploy"
    assert run_cli("render", "--repo", str(example_repo), "--out", str(out)).code == 0
    (out / "dev" / "digits-cnn" / "hpa.yaml").write_text("old\n")
    (out / "prod" / "kustomization.yaml").unlink()
    (out / "prod" / "old.yaml").write_text("x\n")
    result = run_cli("render", "--repo", str(example_repo), "--check", str(out))
    assert result.code == 1
    _clean(result.err)
    lines = result.err.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith(f"{out.as_posix()}/dev/digits-cnn/hpa.yaml:1:1: stale")
    assert lines[1].startswith(f"{out.as_posix()}/prod/kustomization.yaml:1:1: missing")
    assert lines[2].startswith(f"{out.as_posix()}/prod/old.yaml:1:1: extra")
    assert not (out / "prod" / "kustomization.yaml").exists()


def test_github_annotations_for_stale_files(example_repo: Path, tmp_path: Path) -> None:
    import os

    env = {**os.environ, "GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md")}
    result = run_cli("render", "--repo", str(example_repo), "--check", str(tmp_path / "none"), env=env)
    assert result.code == 1
    assert "::error file=" in result.out


def test_usage_and_input_errors(example_repo: Path) -> None:
    for args, code, words in [
        (("render", "--env", "qa"), 1, "no environment named 'qa'"),
        (("render", "--model", "nope"), 1, "no model named 'nope'"),
        (("render", "--out", "a", "--check", "b"), 2, "not allowed with argument"),
    ]:
        result = run_cli(*args, "--repo", str(example_repo))
        assert result.code == code, (args, result.err)
        assert words in result.err
        _clean(result.err)
    bad = example_repo / "environments" / "dev.yaml"
    bad.write_text(bad.read_text().replace("pins: {}", "pins: {ghost: 20250101-aaaaaaaa}"))
    result = run_cli("render", "--repo", str(example_repo), "--out", str(example_repo / "out"))
    assert result.code == 1
    assert result.err.startswith("environments/dev.yaml:")
    assert "ghost" in result.err
    _clean(result.err)
    assert not (example_repo / "out").exists()


def test_help_has_an_example() -> None:
    result = run_cli("render", "--help")
    assert result.code == 0
    assert "examples:" in result.out and "--check" in result.out


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kubectl_kustomize_builds_each_environment(example_repo: Path) -> None:
    _pin(example_repo)
    out = example_repo / "deploy"
    assert run_cli("render", "--repo", str(example_repo), "--out", str(out)).code == 0
    for env in ("dev", "staging", "prod"):
        built = subprocess.run(["kubectl", "kustomize", str(out / env)], capture_output=True, text=True, check=False,
                               timeout=120)
        assert built.returncode == 0, built.stderr
        kinds = [d["kind"] for d in yaml.safe_load_all(built.stdout)]
        assert kinds[0] == "Namespace"
        if env == "dev":
            assert sorted(set(kinds)) == ["ConfigMap", "Deployment", "HorizontalPodAutoscaler", "Namespace",
                                          "NetworkPolicy", "PodDisruptionBudget", "Service", "ServiceAccount"]
            assert kinds.count("Deployment") == 2

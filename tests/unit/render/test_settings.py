"""Effective serving settings: model spec → environment defaults → environment overrides[model]."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops.core.errors import UserError
from mlops.core.repo import load_repository
from mlops.render.settings import effective
from tests.unit.render.render_helpers import set_pins


def _effective(repo: Path, env: str, model: str):  # type: ignore[no-untyped-def]
    loaded = load_repository(repo)
    assert not loaded.problems, loaded.problems
    return effective(loaded.model(model), loaded.environments[env])


def _env(repo: Path, env: str, text: str) -> None:
    path = repo / "environments" / f"{env}.yaml"
    path.write_text(path.read_text("utf-8") + text, encoding="utf-8")


def test_model_spec_is_the_base_and_defaults_win_field_by_field(example_repo: Path) -> None:
    # dev defaults: replicas {min 1, max 2, target 80}; digits-cnn spec: {min 1, max 4, target 70}
    eff = _effective(example_repo, "dev", "digits-cnn")
    assert (eff.replicas.min, eff.replicas.max, eff.replicas.target_cpu_utilization) == (1, 2, 80)
    assert (eff.resources.cpu, eff.resources.memory, eff.gpu) == ("500m", "512Mi", 0)
    assert eff.node_selector == {} and eff.tolerations == [] and eff.runtime_class_name is None


def test_only_the_fields_a_layer_sets_count(example_repo: Path) -> None:
    # staging defaults set replicas {min: 1, max: 3}: the spec's target_cpu_utilization (70) stays
    eff = _effective(example_repo, "staging", "digits-cnn")
    assert (eff.replicas.min, eff.replicas.max, eff.replicas.target_cpu_utilization) == (1, 3, 70)


def test_override_beats_defaults_and_gpu_brings_gpu_placement(example_repo: Path) -> None:
    eff = _effective(example_repo, "prod", "digits-cnn")
    assert (eff.resources.cpu, eff.resources.memory, eff.gpu) == ("2", "2Gi", 1)
    assert eff.node_selector == {"kubernetes.io/os": "linux", "nvidia.com/gpu.present": "true"}
    assert eff.tolerations == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert eff.runtime_class_name == "nvidia"
    assert eff.k8s_resources()["limits"]["nvidia.com/gpu"] == "1"
    # the defaults still apply where the override is silent
    assert (eff.replicas.min, eff.replicas.max) == (2, 6)


def test_cpu_model_gets_no_gpu_node_selector(example_repo: Path) -> None:
    eff = _effective(example_repo, "prod", "cancer-mlp")
    assert eff.gpu == 0
    assert eff.node_selector == {"kubernetes.io/os": "linux"}
    assert "nvidia.com/gpu" not in eff.k8s_resources()["limits"]
    assert eff.k8s_resources()["requests"] == {"cpu": "1", "memory": "1Gi"}


def test_partial_resources_override_keeps_lower_layers(example_repo: Path) -> None:
    _env(example_repo, "dev", "overrides:\n  cancer-mlp:\n    resources: {gpu: 2}\n"
                              "    node_selector: {pool: ml}\n    gpu_node_selector: {gpu: a100}\n")
    eff = _effective(example_repo, "dev", "cancer-mlp")
    assert (eff.resources.cpu, eff.resources.memory, eff.gpu) == ("250m", "256Mi", 2)
    assert eff.node_selector == {"gpu": "a100", "pool": "ml"}


def test_impossible_merge_is_a_user_error_at_the_environment_file(example_repo: Path) -> None:
    # dev defaults cap max at 2; an override of min 3 (and nothing else) cannot hold
    _env(example_repo, "dev", "overrides:\n  digits-cnn:\n    replicas: {min: 3}\n")
    set_pins(example_repo, "dev", {"digits-cnn": "20250101-aaaaaaaa"})
    with pytest.raises(UserError) as info:
        _effective(example_repo, "dev", "digits-cnn")
    problem = info.value.problems[0]
    assert problem.path == "environments/dev.yaml"
    lines = (example_repo / "environments" / "dev.yaml").read_text("utf-8").splitlines()
    replicas = next(i for i, line in enumerate(lines) if line == "    replicas: {min: 3}") + 1
    assert (problem.line, problem.col) == (replicas, 15)  # overrides.digits-cnn.replicas
    assert "min (3)" in problem.message and "max (2)" in problem.message
    assert "digits-cnn" in problem.message

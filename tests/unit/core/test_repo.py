"""Loading the whole repository: everything that parses, and every problem of what does not."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mlops.core.errors import UserError
from mlops.core.repo import ROOT_ENVIRONMENT, load_repository


def test_example_repository_loads(example_repo: Path) -> None:
    repo = load_repository(example_repo)
    assert repo.problems == []
    assert sorted(repo.models) == ["cancer-mlp", "digits-cnn"] == repo.model_dirs
    assert repo.environment_files == ["dev", "prod", "staging"]
    assert repo.promotion_order() == ["dev", "staging", "prod"]
    assert repo.model("digits-cnn").serving.input.size == 64
    assert repo.environment("prod").promoted_from == "staging"
    assert repo.records == {"cancer-mlp": {}, "digits-cnn": {}}
    assert repo.rel(example_repo.resolve() / "models") == "models"
    repo.require_valid()


def test_problems_are_collected_not_raised(example_repo: Path) -> None:
    (example_repo / "models/cancer-mlp/model.yaml").write_text("name: [\n")
    (example_repo / "environments/staging.yaml").write_text("")
    repo = load_repository(example_repo)
    assert [str(p) for p in repo.problems] == [
        "models/cancer-mlp/model.yaml:2:1: YAML syntax error: did not find expected node content",
        "environments/staging.yaml:1:1: file is empty; expected a YAML mapping",
    ]
    assert "cancer-mlp" in repo.model_dirs and "cancer-mlp" not in repo.models
    assert "staging" in repo.environment_files and "staging" not in repo.environments
    with pytest.raises(UserError) as info:
        repo.require_valid()
    assert len(info.value.problems) == 2


def test_only_models_loads_the_named_ones(example_repo: Path) -> None:
    (example_repo / "models/cancer-mlp/model.yaml").write_text("broken: [\n")
    repo = load_repository(example_repo, only_models={"digits-cnn"})
    assert repo.problems == []
    assert list(repo.models) == ["digits-cnn"]
    assert repo.model_dirs == ["cancer-mlp", "digits-cnn"]


def test_records_are_loaded(example_repo: Path, make_record: Callable[..., Path]) -> None:
    make_record(example_repo, "cancer-mlp", "20250101-aaaaaaaa")
    make_record(example_repo, "cancer-mlp", "20250102-bbbbbbbb")
    repo = load_repository(example_repo)
    assert list(repo.records["cancer-mlp"]) == ["20250101-aaaaaaaa", "20250102-bbbbbbbb"]
    assert repo.records["cancer-mlp"]["20250102-bbbbbbbb"].spec.metrics["accuracy"] == 0.95


def test_empty_repository(tmp_path: Path) -> None:
    repo = load_repository(tmp_path)
    assert [str(p) for p in repo.problems] == [
        "models:1:1: no models found; expected models/<name>/model.yaml (create one with `mlops new model NAME`)",
        "environments:1:1: no environments directory; expected environments/dev.yaml",
    ]


@pytest.mark.parametrize(("chain", "order"), [
    ({"dev": None, "staging": "dev", "prod": "staging"}, ["dev", "staging", "prod"]),
    ({"dev": None, "qa": None, "staging": "dev"}, ["dev", "staging"]),  # a second root is not followed
    ({"dev": None, "b": "dev", "a": "dev"}, ["dev", "a"]),  # a branch: the first successor by name
    ({"dev": "prod", "prod": "dev"}, []),  # no root
    ({"qa": None, "prod": "qa"}, []),  # the root must be dev
])
def test_promotion_order(tmp_path: Path, chain: dict[str, str | None], order: list[str]) -> None:
    (tmp_path / "environments").mkdir()
    for name, src in chain.items():
        text = f"name: {name}\ntarget: local\n" + (f"promoted_from: {src}\n" if src else "")
        (tmp_path / "environments" / f"{name}.yaml").write_text(text)
    assert load_repository(tmp_path).promotion_order() == order
    assert ROOT_ENVIRONMENT == "dev"


@pytest.mark.parametrize("ref", ["digits-cnn", "@v1", "digits-cnn@", "", "a@b@c"])
def test_ref_must_be_model_at_version(ref: str) -> None:
    from mlops.core.errors import UsageError
    from mlops.core.repo import parse_ref

    with pytest.raises(UsageError, match="MODEL@VERSION"):
        parse_ref(ref)


def test_lookups_have_one_wording(example_repo: Path) -> None:
    repo = load_repository(example_repo)
    assert repo.require_model("digits-cnn").spec.name == "digits-cnn"
    with pytest.raises(UserError) as err:
        repo.require_model("nope")
    assert str(err.value) == "models:1:1: no model named 'nope'; expected one of cancer-mlp, digits-cnn"
    with pytest.raises(UserError) as err:
        repo.require_environment("qa")
    assert str(err.value) == "environments:1:1: no environment named 'qa'; expected one of dev, prod, staging"
    with pytest.raises(UserError) as err:
        repo.require_record("digits-cnn@20250101-aaaaaaaa")
    assert str(err.value) == ("models/digits-cnn/versions:1:1: no version '20250101-aaaaaaaa' of model 'digits-cnn'; "
                              "digits-cnn has no version records yet (train one: `mlops train digits-cnn`)")
    with pytest.raises(UserError, match="no model named 'nope'"):
        repo.require_record("nope@1")


def test_a_model_that_did_not_load_reports_its_own_problems(example_repo: Path) -> None:
    (example_repo / "models/cancer-mlp/model.yaml").write_text("name: [\n")
    with pytest.raises(UserError) as err:
        load_repository(example_repo).require_model("cancer-mlp")
    assert str(err.value).startswith("models/cancer-mlp/model.yaml:2:1: YAML syntax error")

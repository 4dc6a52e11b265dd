"""The serving wheelhouse: what the image carries (the serve extra, locked to this host) and what it does not."""

from __future__ import annotations

import importlib.metadata as md
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from mlops.core.errors import UserError
from mlops.deploy import wheelhouse


def test_serve_extra_is_read_from_the_distribution(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(md, "requires", lambda _: ['pydantic>=2', 'dvc>=3', 'torch>=2.4; extra == "serve"',
                                                   'pytest; extra == "test"', 'numpy; extra == "serve"'])
    assert [str(r) for r in wheelhouse.serving_requirements()] == ["torch>=2.4", "numpy"]


def test_without_a_serve_extra_the_fallback_list_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(md, "requires", lambda _: ["pydantic>=2", "dvc>=3"])
    assert [r.name for r in wheelhouse.serving_requirements()] == wheelhouse.FALLBACK_SERVE


def test_lock_is_the_installed_closure_without_the_training_stack() -> None:
    pins = wheelhouse.lock(wheelhouse.serving_requirements())
    assert pins["torch"] == md.version("torch")
    for needed in ("numpy", "pydantic", "pydantic-core", "pyyaml", "prometheus-client", "sympy", "filelock"):
        assert needed in pins, needed
    for heavy in ("dvc", "evidently", "kubernetes", "pandas", "scikit-learn", "mlops-gitops", "pytest"):
        assert heavy not in pins, heavy
    text = wheelhouse.lock_text(pins)
    assert list(pins) == sorted(pins) and all("==" in line for line in text.splitlines())


def test_lock_refuses_what_is_not_installed() -> None:
    with pytest.raises(UserError, match="not-a-real-dist-xyz is needed by the serving image but is not installed"):
        wheelhouse.lock([Requirement("not-a-real-dist-xyz")])


def test_lock_refuses_an_installed_version_outside_the_requirement() -> None:
    with pytest.raises(UserError, match="the serving image needs numpy<1"):
        wheelhouse.lock([Requirement("numpy<1")])


def test_up_to_date_wheelhouse_is_not_downloaded_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    deps = tmp_path / "deps"
    deps.mkdir()
    pins = wheelhouse.lock(wheelhouse.serving_requirements())
    (deps / wheelhouse.LOCK).write_text(wheelhouse.lock_text(pins))

    def no_pip(*_: object, **__: object) -> None:
        raise AssertionError("pip must not run for an up-to-date wheelhouse")

    monkeypatch.setattr(wheelhouse, "_pip", no_pip)
    lines: list[str] = []
    assert wheelhouse.build_deps(deps, pins, log=lines.append) == deps
    assert "up to date" in lines[0]


def test_pip_failure_is_a_user_error_with_pip_s_words(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"`pip download` failed: .*(No matching distribution|not find)"):
        wheelhouse._pip(["download", "--no-index", "--dest", str(tmp_path), "not-a-real-dist-xyz==1"],
                        log=lambda _: None)


def test_mlops_wheel_is_reproducible(tmp_path: Path) -> None:
    first = wheelhouse.build_mlops_wheel(tmp_path / "a", log=lambda _: None)
    second = wheelhouse.build_mlops_wheel(tmp_path / "b", log=lambda _: None)
    assert first.name == second.name and first.name.startswith("mlops_gitops-")
    assert first.read_bytes() == second.read_bytes()


def test_select_wheels_takes_exactly_the_locked_versions(tmp_path: Path) -> None:
    for name in ("numpy-2.0.0-cp311-cp311-linux_x86_64.whl", "numpy-1.26.0-cp311-cp311-linux_x86_64.whl",
                 "torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl", "pyarrow-26.0.1-cp311-cp311-any.whl",
                 "not a wheel.whl"):
        (tmp_path / name).write_bytes(b"")
    chosen = wheelhouse.select_wheels(tmp_path, {"numpy": "2.0.0", "torch": "2.13.0+cpu"})
    assert [p.name for p in chosen] == ["numpy-2.0.0-cp311-cp311-linux_x86_64.whl",
                                        "torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl"]
    with pytest.raises(UserError, match=r"the wheelhouse lacks sympy==1\.14\.0"):
        wheelhouse.select_wheels(tmp_path, {"numpy": "2.0.0", "sympy": "1.14.0"})


def test_parquet_prediction_logs_add_pyarrow() -> None:
    assert [r.name for r in wheelhouse.serving_requirements(["pyarrow"])][-1] == "pyarrow"

"""Fixtures for the render tests: the example repository with pins and the built-in templates."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.unit.render.render_helpers import pin_example


@pytest.fixture
def pinned_repo(example_repo: Path) -> Path:
    return pin_example(example_repo)


@pytest.fixture
def builtin_template() -> Callable[[str], str]:
    from mlops.render.templates import PACKAGE_DIR

    return lambda name: (PACKAGE_DIR / name).read_text("utf-8")

"""Golden files: the example repository's dev and prod trees, rendered with the pins of ``pin_example``
(and ``REPO_URL`` as the repository prod's Argo CD Application pulls); prod keeps its production data in
an object store (``PROD_MONITORING``: s3:// sinks, credentials from a Secret).

The expected trees live in ``tests/golden/render/<env>/``. After an intended change to the templates,
the example specs or the renderer, regenerate them and review the diff::

    UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/unit/render/test_golden.py
"""

from __future__ import annotations

import os
from pathlib import Path

from mlops.render import compare, render, write
from tests.unit.render.render_helpers import PROD_MONITORING, REPO_URL, set_monitoring

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "render"
ENVS = ["dev", "prod"]


def test_rendered_trees_match_the_golden_files(pinned_repo: Path) -> None:
    set_monitoring(pinned_repo, "prod", PROD_MONITORING)
    rendered = render(pinned_repo, ENVS, repo_url=REPO_URL)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        write(GOLDEN, rendered)
    problems = compare(GOLDEN, rendered)
    assert not problems, "golden files differ (regenerate with UPDATE_GOLDEN=1, see the module docstring):\n" + \
        "\n".join(str(p) for p in problems)
    assert sorted(p.name for p in GOLDEN.iterdir()) == ENVS

"""``--pin ENV``: the image digest lands in the one pin line; comments and layout stay as they were."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mlops.core.errors import UserError
from mlops.deploy.pin import edit_pin, pin_image
from mlops.validate.validate import load_valid
from tests.unit.deploy.versions import Version

D = "sha256:" + "cd" * 32
HEAD = "# reviewed by the approvers\nname: dev\npins:\n"


def _pin(text: str) -> object:
    return yaml.safe_load(text)["pins"]["m"]


@pytest.mark.parametrize(("before", "after"), [
    ("  m: v1  # promoted in #12\n", f'  m: {{version: v1, image: "{D}"}}  # promoted in #12\n'),
    ("  m: {version: v1}\n", f'  m: {{version: v1, image: "{D}"}}\n'),
    ("  m: {version: v1, image: 'sha256:" + "0" * 64 + "'}\n", f'  m: {{version: v1, image: "{D}"}}\n'),
    ("  m:\n    version: v1  # keep\n    image: sha256:" + "0" * 64 + "\n  n: v9\n",
     f'  m:\n    version: v1  # keep\n    image: "{D}"\n  n: v9\n'),
    ("  m:\n    version: v1\n  n: v9\n", f'  m:\n    version: v1\n    image: "{D}"\n  n: v9\n'),
    ("  m:\n    version: v1\n    image:\n", f'  m:\n    version: v1\n    image: "{D}"\n'),
    ("  m:\n    version: v1", f'  m:\n    version: v1\n    image: "{D}"'),
])
def test_edit_pin_changes_only_the_pin(before: str, after: str) -> None:
    new = edit_pin(HEAD + before, "environments/dev.yaml", "m", "v1", D)
    assert new == HEAD + after
    assert _pin(new) == {"version": "v1", "image": D}


def test_flow_pins_mapping() -> None:
    new = edit_pin("pins: {m: v1, n: v2}\n", "e.yaml", "m", "v1", D)
    assert yaml.safe_load(new)["pins"] == {"m": {"version": "v1", "image": D}, "n": "v2"}


@pytest.mark.parametrize(("text", "line", "message"), [
    (HEAD + "  m: v2\n", 4, "pins m at 'v2', not 'v1'"),
    (HEAD + "  m: {version: v2, image: " + D + "}\n", 4, "pins m at 'v2', not 'v1'"),
    ("name: dev\npins: {}\n", 2, "m is not pinned here"),
    ("name: dev\n", 1, "m is not pinned here"),
])
def test_edit_pin_refuses_what_is_not_this_version(text: str, line: int, message: str) -> None:
    with pytest.raises(UserError) as err:
        edit_pin(text, "environments/dev.yaml", "m", "v1", D)
    assert f"environments/dev.yaml:{line}:" in str(err.value) and message in str(err.value)


def test_pin_image_writes_a_valid_environment(recorded: Version) -> None:
    env_file = recorded.repo / "environments" / "dev.yaml"
    text = env_file.read_text()
    env_file.write_text(text.replace("pins: {}", f"pins:\n  digits-cnn: {recorded.version}  # first pin"))
    before = env_file.read_text()
    assert pin_image(load_valid(recorded.repo), "dev", "digits-cnn", recorded.version, D) == "environments/dev.yaml"
    after = env_file.read_text()
    assert after == before.replace(f"digits-cnn: {recorded.version}",
                                   f'digits-cnn: {{version: {recorded.version}, image: "{D}"}}')
    pin = load_valid(recorded.repo).environment("dev").pin("digits-cnn")
    assert pin is not None and (pin.version, pin.image) == (recorded.version, D)


def test_pin_image_leaves_the_file_alone_on_refusal(recorded: Version) -> None:
    env_file: Path = recorded.repo / "environments" / "dev.yaml"
    before = env_file.read_text()
    with pytest.raises(UserError, match="not pinned here"):
        pin_image(load_valid(recorded.repo), "dev", "digits-cnn", recorded.version, D)
    assert env_file.read_text() == before

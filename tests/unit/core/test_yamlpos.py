"""YAML loading with positions: safe, strict, bounded, and every failure at its line and column."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops.core import yamlpos
from mlops.core.errors import UserError

TEXT = """# a comment
name: demo
nested:
  list: [1, two, 3.5]
  deep:
    - {a: 1}
    - b: x
flag: true
"""


def problems(text: str) -> list[str]:
    with pytest.raises(UserError) as info:
        yamlpos.parse(text, "f.yaml")
    return [str(p) for p in info.value.problems]


def test_data_and_positions() -> None:
    doc = yamlpos.parse(TEXT, "f.yaml")
    assert doc.data == {"name": "demo", "nested": {"list": [1, "two", 3.5], "deep": [{"a": 1}, {"b": "x"}]},
                        "flag": True}
    assert doc.keys[("name",)] == (2, 1)
    assert doc.values[("name",)] == (2, 7)
    assert doc.values[("nested", "list", 1)] == (4, 13)
    assert doc.keys[("nested", "deep", 1, "b")] == (7, 7)
    assert doc.values[("nested", "deep", 1, "b")] == (7, 10)


def test_where_falls_back_to_the_nearest_known_parent() -> None:
    doc = yamlpos.parse(TEXT, "f.yaml")
    assert doc.where(("nested", "list", 2)) == (4, 18)
    assert doc.where(("nested", "list", 2), key=True) == (4, 18)  # no key: the value itself
    assert doc.where(("nested", "missing")) == (3, 1)  # the parent key, where the missing key belongs
    assert doc.where(("nested", "missing"), key=True) == (3, 1)
    assert doc.where(("absent", "x")) == (2, 1)  # the top-level mapping
    assert doc.where(()) == (2, 1)
    assert str(doc.problem(("flag",), "bad")) == "f.yaml:8:7: bad"
    assert str(doc.problem(("flag",), "bad", key=True)) == "f.yaml:8:1: bad"


def test_syntax_error_at_its_position() -> None:
    assert problems("a: 1\nb: [1, 2\nc: 3\n") == ["f.yaml:3:2: YAML syntax error: did not find expected ',' or ']'"]


def test_tab_indentation_is_a_syntax_error() -> None:
    assert problems("a:\n\tb: 1\n") == ["f.yaml:2:1: YAML syntax error: found character that cannot start any token"]


def test_every_duplicate_key_is_reported() -> None:
    assert problems("a: 1\nb:\n  x: 1\n  x: 2\na: 3\n") == [
        "f.yaml:4:3: duplicate key 'x' (first defined on line 3)",
        "f.yaml:5:1: duplicate key 'a' (first defined on line 1)",
    ]


def test_alias_bomb_is_refused_quickly() -> None:
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        levels.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    msg = problems("\n".join(levels) + "\n")
    assert len(msg) == 1
    assert msg[0].startswith("f.yaml:5:1: document expands to more than 100000 nodes (an alias bomb?)")


def test_small_aliases_are_fine() -> None:
    doc = yamlpos.parse("a: &x [1, 2]\nb: *x\n", "f.yaml")
    assert doc.data == {"a": [1, 2], "b": [1, 2]}


def test_recursive_alias_is_refused() -> None:
    assert problems("a: &x [1, *x]\n")[0].startswith("f.yaml:1:")
    assert "nesting deeper than 64 levels" in problems("a: &x [1, *x]\n")[0]


def test_merge_key_is_refused() -> None:
    assert problems("base: &b {x: 1}\nuse:\n  <<: *b\n") == [
        "f.yaml:3:3: YAML merge keys ('<<') are not supported; write the keys out"]


@pytest.mark.parametrize(("text", "expected"), [
    ("a: !!python/object/apply:os.system [ls]\n",
     "f.yaml:1:4: unsupported YAML tag '!!python/object/apply:os.system'; expected a plain list"),
    ("a: !!python/object:os.system {x: 1}\n",
     "f.yaml:1:4: unsupported YAML tag '!!python/object:os.system'; expected a plain mapping"),
    ("a: !!python/name:os.system ''\n",
     "f.yaml:1:4: unsupported YAML tag '!!python/name:os.system'; expected plain YAML values"),
    ("a: !!set {x: null}\n", "f.yaml:1:4: unsupported YAML tag '!!set'; expected a plain mapping"),
    ("a: !!binary aGVsbG8=\n", "f.yaml:1:4: unsupported YAML tag '!!binary'; expected plain YAML values"),
    ("a: !custom x\n", "f.yaml:1:4: unsupported YAML tag '!custom'; expected plain YAML values"),
])
def test_tags_are_refused(text: str, expected: str) -> None:
    assert problems(text) == [expected]


@pytest.mark.parametrize(("text", "expected"), [
    ("on: 1\n", """f.yaml:1:1: key 'on' reads as a boolean in YAML; expected a string key (quote it: "on")"""),
    ("1: x\n", """f.yaml:1:1: key '1' reads as a number in YAML; expected a string key (quote it: "1")"""),
    ("a:\n  ~: x\n", """f.yaml:2:3: key '~' reads as null (empty) in YAML; expected a string key (quote it: "~")"""),
    ("? [a]\n: x\n", "f.yaml:1:3: mapping keys must be plain strings, not a list or a mapping"),
])
def test_keys_must_be_strings(text: str, expected: str) -> None:
    assert problems(text) == [expected]


def test_quoted_keys_are_strings() -> None:
    assert yamlpos.parse('"on": 1\n"1": 2\n', "f.yaml").data == {"on": 1, "1": 2}


@pytest.mark.parametrize(("text", "expected"), [
    ("- a\n- b\n", "f.yaml:1:1: expected a YAML mapping at the top level, got a list"),
    ("just text\n", "f.yaml:1:1: expected a YAML mapping at the top level, got a string"),
    ("---\n", "f.yaml:1:1: document is empty; expected a YAML mapping"),
    ("# only a comment\n", "f.yaml:1:1: file is empty; expected a YAML mapping"),
    ("a: 1\n---\nb: 2\n", "f.yaml:2:1: YAML syntax error: but found another document"),
])
def test_top_level_must_be_one_mapping(text: str, expected: str) -> None:
    assert problems(text) == [expected]


def test_control_character_is_named() -> None:
    assert problems("a: b\x07c\n") == [
        "f.yaml:1:5: invalid character '\\x07' (control characters are not allowed); expected printable text"]


def test_syntax_error_column_counts_characters_not_bytes() -> None:
    assert problems("a: [é€ü, b]]\n") == ["f.yaml:1:12: YAML syntax error: did not find expected key"]


@pytest.mark.parametrize(("data", "expected"), [
    (b"", "f.yaml:1:1: file is empty; expected a YAML mapping"),
    (b"  \n\n", "f.yaml:1:1: file is empty; expected a YAML mapping"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "f.yaml:1:1: binary file (contains NUL bytes); expected UTF-8 YAML text"),
    (b"a: 1\nb: caf\xe9\n", "f.yaml:2:7: not valid UTF-8; expected UTF-8 YAML text"),
    (b"a: 1\nb: \xc3\xa9\xff\n", "f.yaml:2:5: not valid UTF-8; expected UTF-8 YAML text"),
])
def test_load_refuses_what_is_not_yaml_text(tmp_path: Path, data: bytes, expected: str) -> None:
    file = tmp_path / "f.yaml"
    file.write_bytes(data)
    with pytest.raises(UserError) as info:
        yamlpos.load(file, "f.yaml")
    assert [str(p) for p in info.value.problems] == [expected]


def test_load_strips_a_utf8_bom(tmp_path: Path) -> None:
    file = tmp_path / "f.yaml"
    file.write_bytes(b"\xef\xbb\xbfa: 1\n")
    assert yamlpos.load(file, "f.yaml").data == {"a": 1}


def test_load_missing_directory_and_oversized(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def one(path: Path) -> str:
        with pytest.raises(UserError) as info:
            yamlpos.load(path, "f.yaml")
        return str(info.value.problems[0])

    assert one(tmp_path / "nope.yaml") == "f.yaml:1:1: file not found"
    assert one(tmp_path) == "f.yaml:1:1: is a directory; expected a YAML file"
    big = tmp_path / "big.yaml"
    big.write_text("a: 1\n" + "# padding\n" * 200)
    monkeypatch.setattr(yamlpos, "MAX_BYTES", 1000)
    assert one(big).startswith("f.yaml:1:1: file is larger than")


def test_load_uses_the_real_path_when_no_display_name(tmp_path: Path) -> None:
    file = tmp_path / "x.yaml"
    file.write_text("a: [\n")
    with pytest.raises(UserError) as info:
        yamlpos.load(file)
    assert info.value.problems[0].path == str(file)

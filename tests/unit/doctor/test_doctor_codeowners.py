"""CODEOWNERS read as GitHub reads it: gitignore-style patterns with GitHub's exceptions, the last match wins."""

from __future__ import annotations

import pytest

from mlops.doctor.codeowners import compile_pattern, parse

# pattern → {path: whether it matches}; the behaviour GitHub documents for CODEOWNERS
CASES: dict[str, dict[str, bool]] = {
    "environments": {"environments": True, "environments/prod.yaml": True, "x/environments/a": True,
                     "environments.yaml": False},
    "/environments": {"environments/prod.yaml": True, "x/environments/a": False},
    "environments/": {"environments": False, "environments/prod.yaml": True, "x/environments/a": True},
    "/environments/": {"environments/prod.yaml": True, "x/environments/a": False},
    "models/*/versions/": {"models/a/versions/1.yaml": True, "models/a/b/versions/1.yaml": False,
                           "x/models/a/versions/1.yaml": False, "models/a/versions": False},
    "docs/*": {"docs/a.md": True, "docs/x/b.md": False, "docs": False},
    "/*": {"README.md": True, "mlops/cli.py": False},
    "*": {"README.md": True, "mlops/cli.py": True},
    "*.yaml": {"a.yaml": True, "environments/prod.yaml": True, "a.yml": False},
    "f?o": {"foo": True, "fo": False, "fooo": False},
    "**/versions": {"versions": True, "models/a/versions/1.yaml": True},
    "models/**": {"models": False, "models/a/versions/1.yaml": True},
    "models/**/versions": {"models/versions": True, "models/a/b/versions/1.yaml": True, "x/models/versions": False},
    "models/**/v*": {"models/a/versions/1.yaml": True, "models/a/data": False},
    "f\\*o": {"f*o": True, "foo": False},
    "/": {"anything": False},
}


@pytest.mark.parametrize("pattern", sorted(CASES))
def test_patterns_match_as_github_documents(pattern: str) -> None:
    regex = compile_pattern(pattern)
    assert regex is not None
    assert {path: bool(regex.match(path)) for path in CASES[pattern]} == CASES[pattern]


@pytest.mark.parametrize("pattern", ["!environments/", "models/[ab]/", "a/***/b", ""])
def test_patterns_github_does_not_support_are_refused(pattern: str) -> None:
    assert compile_pattern(pattern) is None


def test_the_last_matching_line_wins_and_an_ownerless_line_unassigns() -> None:
    owners = parse("* @all\n/environments/ @approvers\n/environments/dev.yaml\n")
    assert owners.owners("mlops/x.py") == ("@all",)
    assert owners.owners("environments/prod.yaml") == ("@approvers",)
    assert owners.owners("environments/dev.yaml") == ()
    rule = owners.rule_for("environments/dev.yaml")
    assert rule is not None and rule.line == 3


def test_comments_blank_lines_inline_comments_and_escapes() -> None:
    text = "# a comment\n\n  /mlops/ @a @b   # platform\n\\#notes @c\nweird\\ name @d\n!negated @e\n"
    owners = parse(text)
    assert owners.owners("mlops/__init__.py") == ("@a", "@b")
    assert owners.owners("#notes") == ("@c",)
    assert owners.owners("weird name") == ("@d",)
    assert owners.skipped == ((6, "unsupported pattern '!negated'"),)
    assert [r.line for r in owners.rules] == [3, 4, 5]


def test_no_rule_means_no_owner() -> None:
    assert parse("").owners("environments/prod.yaml") == ()
    assert parse("/docs/ @a\n").rule_for("environments/prod.yaml") is None

"""GitHub's CODEOWNERS rules, read as GitHub reads them (pure).

A line is a pattern followed by owners (``@user``, ``@org/team`` or an e-mail); ``#`` starts a comment.
Patterns follow gitignore's rules with GitHub's exceptions: no ``!`` negation and no ``[...]`` ranges
(such lines are errors and are skipped). A pattern with a slash at the start or in the middle is
anchored at the root, otherwise it matches at any depth; a trailing slash matches what is under a
directory; ``*`` stops at ``/`` and a lone ``*`` last segment does not reach into subdirectories
(``docs/*`` owns ``docs/a.md``, not ``docs/x/b.md``); ``**`` spans directories. The **last** matching
line wins, and a matching line with no owners leaves the path without owners.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

LOCATIONS = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")  # GitHub uses the first that exists
_UNESCAPED_SPACE = re.compile(r"(?<!\\)\s+")


@dataclass(frozen=True)
class Rule:
    line: int
    pattern: str
    owners: tuple[str, ...]
    regex: re.Pattern[str]


@dataclass(frozen=True)
class CodeOwners:
    rules: tuple[Rule, ...]
    skipped: tuple[tuple[int, str], ...] = ()  # (line, why) for lines GitHub ignores

    def rule_for(self, path: str) -> Rule | None:
        """The rule that decides ``path``'s owners: the last one that matches."""
        for rule in reversed(self.rules):
            if rule.regex.match(path):
                return rule
        return None

    def owners(self, path: str) -> tuple[str, ...]:
        rule = self.rule_for(path)
        return rule.owners if rule else ()


def parse(text: str) -> CodeOwners:
    rules: list[Rule] = []
    skipped: list[tuple[int, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        tokens = _UNESCAPED_SPACE.split(line)
        pattern, rest = tokens[0], tokens[1:]
        owners: list[str] = []
        for token in rest:
            if token.startswith("#"):
                break  # an inline comment
            owners.append(token)
        pattern = pattern.replace("\\ ", " ")
        if pattern.startswith("\\#"):
            pattern = pattern[1:]
        regex = compile_pattern(pattern)
        if regex is None:
            skipped.append((number, f"unsupported pattern {pattern!r}"))
            continue
        rules.append(Rule(number, pattern, tuple(owners), regex))
    return CodeOwners(tuple(rules), tuple(skipped))


def compile_pattern(pattern: str) -> re.Pattern[str] | None:
    """The pattern as a regular expression over repository paths (no leading slash); None when unsupported."""
    if not pattern or "***" in pattern or pattern.startswith("!") or re.search(r"(?<!\\)\[", pattern):
        return None
    if pattern == "/":
        return re.compile(r"(?!)")  # matches nothing
    segments = pattern.split("/")
    if segments[0] == "":
        segments = segments[1:]  # anchored at the root
    elif (len(segments) == 1 or (len(segments) == 2 and segments[1] == "")) and segments[0] != "**":
        segments = ["**", *segments]  # one name: at any depth
    if len(segments) > 1 and segments[-1] == "":
        segments[-1] = "**"  # a trailing slash: everything under the directory
    last = len(segments) - 1
    out: list[str] = []
    slash = False  # whether a separator must come before the next segment
    for i, segment in enumerate(segments):
        if segment == "**":
            if i == 0:
                out.append(".+" if i == last else "(?:.+/)?")
                slash = False
            elif i == last:
                out.append("/.*")
            else:
                out.append("(?:/.+)?")
                slash = True
            continue
        if slash:
            out.append("/")
        if segment == "*":
            out.append("[^/]+")
        else:
            out.append(_segment(segment))
            if i == last:
                out.append("(?:/.*)?")  # a name also owns what is under it
        slash = True
    return re.compile(r"\A" + "".join(out) + r"\Z")


def _segment(segment: str) -> str:
    out: list[str] = []
    escaped = False
    for ch in segment:
        if escaped:
            out.append(re.escape(ch))
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        else:
            out.append(re.escape(ch))
    return "".join(out)

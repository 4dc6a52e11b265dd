"""Escape text that comes from specs, records and verdicts for the place it lands in a PR comment.

Anything a pull request can write — params, notes, metric, gate and history names, data paths — is data.
In the comment it must stay text: no markdown or HTML that changes the page, no ``@mention`` that pings
people, no ``#123`` that links an issue, no mermaid syntax that breaks out of a label.

* :func:`text` — inline markdown text (backslash escapes, so no HTML either; mentions and references defused);
* :func:`code` — an inline code span that no backtick in the value can close (CommonMark's rule);
* :func:`cell` — a table cell (GFM splits cells on ``|`` even inside code spans);
* :func:`mermaid` — a label inside double quotes in a mermaid block.
"""

from __future__ import annotations

import re

_WORD_JOINER = "\u2060"  # invisible; breaks @mention and #reference detection without changing what people read
_MARKDOWN = re.compile(r"([\\`*_\[\]{}~!|<>&])")  # CommonMark: any ASCII punctuation may be escaped
_MENTION = re.compile(r"([@#])(?=[A-Za-z0-9])")
_BACKTICKS = re.compile(r"`+")
_MERMAID_UNSAFE = re.compile(r"[^A-Za-z0-9 _.,:/+()'\-]")


def _one_line(value: object) -> str:
    return " ".join(str(value).split())


def text(value: object) -> str:
    """``value`` as inline markdown that renders as exactly its characters."""
    escaped = _MARKDOWN.sub(r"\\\1", _one_line(value))  # also stops HTML: no tag or entity can start
    return _MENTION.sub(lambda m: m.group(1) + _WORD_JOINER, escaped)


def code(value: object) -> str:
    """``value`` as an inline code span (its backticks cannot end the span)."""
    raw = _one_line(value)
    fence = "`" * (max((len(run) for run in _BACKTICKS.findall(raw)), default=0) + 1)
    pad = " " if raw.startswith(("`", " ")) or raw.endswith(("`", " ")) or not raw else ""
    return f"{fence}{pad}{raw}{pad}{fence}"


def cell(markdown: str) -> str:
    """A markdown fragment (already escaped with :func:`text` / :func:`code`) made safe for a table cell."""
    return re.sub(r"(?<!\\)\|", r"\\|", markdown.replace("\n", " "))


def mermaid(value: object) -> str:
    """``value`` for a double-quoted mermaid label: quotes, brackets, semicolons and directives removed."""
    return _MERMAID_UNSAFE.sub("_", _one_line(value).replace('"', "'"))[:80]

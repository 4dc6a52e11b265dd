#!/usr/bin/env python3
"""Regenerate the GitHub contract fixtures from GitHub's official descriptions (npm packages).

- ``tests/fixtures/github/openapi-trimmed.json``: only the REST operations mlops uses: the union of the Forge
  client's (``mlops.adapters.forge.github.OPERATIONS``) and the settings reader's that ``mlops doctor`` uses
  (``mlops.adapters.forge.settings.OPERATIONS``), each with its parameters, request body and responses,
  plus every component those reference (transitively), from ``@octokit/openapi``'s
  ``generated/api.github.com.json``. Descriptions and examples are dropped to keep it small.
- ``tests/fixtures/github/events/*.json``: a few real webhook payloads from ``@octokit/webhooks-examples``.

Needs ``npm`` (the npm registry) and nothing else; nothing is installed. Usage::

    python scripts/gen_github_fixtures.py [--openapi-version 23.0.2] [--examples-version 7.6.1]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from mlops.adapters.forge import github, settings

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "github"
# The REST operations mlops uses: the fixture holds exactly these (a table may grow; an operation in both must agree).
TABLES: dict[str, dict[str, tuple[str, str]]] = {"github": github.OPERATIONS, "settings": settings.OPERATIONS}


def union(tables: dict[str, dict[str, tuple[str, str]]]) -> dict[str, tuple[str, str]]:
    merged: dict[str, tuple[str, str]] = {}
    for name, table in tables.items():
        for op_id, route in table.items():
            if merged.setdefault(op_id, route) != route:
                raise SystemExit(f"{op_id} is {route} in {name}.OPERATIONS but {merged[op_id]} elsewhere")
    return merged


OPERATIONS = union(TABLES)
# (event name, action or None, ref prefix, output file): the first example that matches (and deletes nothing).
EVENTS: list[tuple[str, str | None, str, str]] = [
    ("pull_request", "opened", "", "pull_request.opened.json"),
    ("pull_request", "synchronize", "", "pull_request.synchronize.json"),
    ("workflow_dispatch", None, "refs/heads/", "workflow_dispatch.json"),
    ("push", None, "refs/heads/", "push.json"),
    ("workflow_run", "completed", "", "workflow_run.completed.json"),
]
DROP_KEYS = {"description", "summary", "examples", "example", "externalDocs", "x-github", "x-octokit", "tags"}


def npm_pack(spec: str, into: Path) -> Path:
    """``npm pack SPEC`` into ``into``; returns the tarball (npm prints its file name last)."""
    out = subprocess.run(["npm", "pack", "--silent", spec], cwd=into, check=True, capture_output=True, text=True)
    return into / out.stdout.strip().splitlines()[-1]


def read_member(tarball: Path, name: str) -> Any:
    with tarfile.open(tarball, "r:gz") as tar:
        member = tar.extractfile(f"package/{name}")
        if member is None:
            raise SystemExit(f"{tarball.name} has no {name}")
        return json.load(member)


def strip(node: Any, names: bool = False) -> Any:
    """Drop prose and examples (not part of the contract); keep everything a validator reads.

    ``names``: ``node`` maps property names to schemas (a property may be called ``description``).
    """
    if isinstance(node, dict):
        return {k: strip(v, k == "properties" and not names) for k, v in node.items() if names or k not in DROP_KEYS}
    if isinstance(node, list):
        return [strip(v) for v in node]
    return node


def refs(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            found.add(ref)
        for value in node.values():
            found |= refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= refs(value)
    return found


def trim(spec: dict[str, Any]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for op_id, (template, method) in OPERATIONS.items():
        item = spec["paths"].get(template, {})
        operation = item.get(method)
        if operation is None:
            raise SystemExit(f"{op_id}: no {method.upper()} {template} in this version of @octokit/openapi")
        if operation["operationId"] != op_id:
            raise SystemExit(f"{method.upper()} {template} is {operation['operationId']}, expected {op_id}")
        entry = paths.setdefault(template, {k: v for k, v in item.items() if k == "parameters"})
        entry[method] = strip(operation)
    components: dict[str, dict[str, Any]] = {}
    pending = refs(paths)
    seen: set[str] = set()
    while pending:
        ref = pending.pop()
        if ref in seen:
            continue
        seen.add(ref)
        _, section, kind, name = ref.split("/", 3)
        if section != "components":
            raise SystemExit(f"unexpected $ref {ref}")
        node = strip(spec["components"][kind][name])
        components.setdefault(kind, {})[name] = node
        pending |= refs(node) - seen
    return {
        "openapi": spec["openapi"],
        "info": {"title": "api.github.com, trimmed to the operations mlops uses",
                 "version": spec["info"]["version"],
                 "x-source": "npm @octokit/openapi generated/api.github.com.json"},
        "paths": {p: paths[p] for p in sorted(paths)},
        "components": {k: dict(sorted(v.items())) for k, v in sorted(components.items())},
    }


def events(examples: list[dict[str, Any]]) -> dict[str, Any]:
    by_name = {entry["name"]: entry["examples"] for entry in examples}
    chosen: dict[str, Any] = {}
    for name, action, ref, filename in EVENTS:
        match = next((e for e in by_name[name] if e.get("action") == action and not e.get("deleted")
                      and str(e.get("ref", "")).startswith(ref)), None)
        if match is None:
            raise SystemExit(f"no {name}.{action} example in @octokit/webhooks-examples")
        chosen[filename] = match
    return chosen


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--openapi-version", default="23.0.2")
    parser.add_argument("--examples-version", default="7.6.1")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gh-fixtures-") as tmp:
        openapi = npm_pack(f"@octokit/openapi@{args.openapi_version}", Path(tmp))
        examples = npm_pack(f"@octokit/webhooks-examples@{args.examples_version}", Path(tmp))
        trimmed = trim(read_member(openapi, "generated/api.github.com.json"))
        payloads = events(read_member(examples, "api.github.com/index.json"))
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "events").mkdir(exist_ok=True)
    text = json.dumps(trimmed, indent=1, sort_keys=False, ensure_ascii=False) + "\n"
    (OUT / "openapi-trimmed.json").write_text(text, encoding="utf-8")
    for filename, payload in payloads.items():
        (OUT / "events" / filename).write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", "utf-8")
    print(f"wrote {OUT / 'openapi-trimmed.json'} ({len(text) // 1024} KiB, {len(OPERATIONS)} operations, "
          f"{sum(len(v) for v in trimmed['components'].values())} components) and {len(payloads)} events",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

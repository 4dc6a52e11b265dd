"""Strict schema validation of the custom resources we render (Argo Rollouts, Argo CD, Flux, Prometheus Operator).

The schemas ship in the package (``mlops/render/crds/<group>_<version>_<kind>.json``, written by
``scripts/gen_crd_schemas.py`` from the kubernetes-models npm packages; each file records its package,
version and integrity under ``x-mlops-source``). Nothing is downloaded. They are OpenAPI-flavoured, so each
is adapted once, when first used, into a JSON Schema (draft 2020-12) validator:

- ``nullable: true`` admits ``null`` (as the API server does);
- every object schema that lists ``properties`` and says nothing about other keys (no
  ``additionalProperties``, no ``x-kubernetes-preserve-unknown-fields``) is closed: an unknown field is an
  error, as with ``kubeconform -strict`` and ``kubernetes-validate --strict`` for core objects.

Failures are reported like core objects': the field path and what is wrong (:class:`kvalidate.SchemaError`).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from mlops.render.kvalidate import SchemaError, field_path

CRD_DIR = Path(__file__).resolve().parent / "crds"
_SCHEMA_MAPS = frozenset({"properties", "$defs", "patternProperties"})
_SCHEMA_LISTS = frozenset({"anyOf", "oneOf", "allOf", "prefixItems"})
_SCHEMA_ONE = frozenset({"not", "items", "additionalProperties", "contains"})
_VERBATIM = frozenset({"enum", "required", "default", "const", "example", "examples"})


def schema_file(api_version: str, kind: str) -> Path:
    group, _, version = api_version.rpartition("/")
    return CRD_DIR / f"{group}_{version}_{kind}.json"


@lru_cache(maxsize=1)
def kinds() -> frozenset[tuple[str, str]]:
    """(apiVersion, kind) of every custom resource with a shipped schema."""
    found = set()
    for path in CRD_DIR.glob("*.json"):
        meta = json.loads(path.read_text("utf-8"))["x-mlops-kind"]
        found.add((meta["apiVersion"], meta["kind"]))
    return frozenset(found)


def known(api_version: Any, kind: Any) -> bool:
    return isinstance(api_version, str) and isinstance(kind, str) and (api_version, kind) in kinds()


@lru_cache(maxsize=32)
def _loaded(api_version: str, kind: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(schema_file(api_version, kind).read_text("utf-8"))
    return loaded


def source(api_version: str, kind: str) -> str:
    """Where the schema of ``kind`` comes from, for messages: ``@kubernetes-models/argo-rollouts 0.3.2``."""
    meta = _loaded(api_version, kind)["x-mlops-source"]
    return f"{meta['package']} {meta['version']}"


def strict(node: Any) -> Any:
    """The OpenAPI-flavoured ``node`` as a strict JSON Schema (see the module docstring)."""
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: strict(sub) for name, sub in value.items()}
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            out[key] = [strict(sub) for sub in value]
        elif key in _SCHEMA_ONE:
            out[key] = [strict(sub) for sub in value] if isinstance(value, list) else strict(value)
        elif key == "nullable" or key.startswith("x-"):
            continue
        else:
            out[key] = value if key in _VERBATIM else strict(value)
    if "properties" in out and "additionalProperties" not in out \
            and not node.get("x-kubernetes-preserve-unknown-fields"):
        out["additionalProperties"] = False
    if node.get("nullable") is True:
        kind = out.get("type")
        if isinstance(kind, str):
            out["type"] = [kind, "null"]
        elif kind is None:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


def strict_schema(api_version: str, kind: str) -> dict[str, Any]:
    """The shipped schema of ``kind``, adapted by :func:`strict` (a JSON Schema, draft 2020-12)."""
    schema: dict[str, Any] = strict(_loaded(api_version, kind))
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


@lru_cache(maxsize=32)
def _validator(api_version: str, kind: str) -> Any:
    import jsonschema

    return jsonschema.Draft202012Validator(strict_schema(api_version, kind))


def validate(obj: dict[str, Any]) -> None:
    """Raise :class:`SchemaError` unless ``obj`` matches the strict schema of its (shipped) kind."""
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if not known(api_version, kind):
        shipped = ", ".join(f"{k} ({a})" for a, k in sorted(kinds()))
        raise SchemaError("apiVersion", f"no schema shipped for kind {kind} in {api_version}; expected one of: "
                                        f"{shipped}")
    validator = _validator(str(api_version), str(kind))
    if validator.is_valid(obj):
        return
    import jsonschema

    best = jsonschema.exceptions.best_match(validator.iter_errors(obj))
    message = str(best.message)
    if best.validator == "additionalProperties":
        message += " (unknown field; expected one of the schema's fields)"
    raise SchemaError(field_path(best.absolute_path), message)

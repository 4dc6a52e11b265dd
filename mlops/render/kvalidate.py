"""Schema validation of rendered objects: ``kubernetes-validate --strict`` through its Python API, fast.

``kubernetes_validate.utils.validate`` re-reads the 1.3 MB definitions file and builds a new validator on
every call. Here each Kubernetes version's definitions are read once and each kind's schema is
dereferenced once (``$ref`` inlined, descriptions dropped) into a cached jsonschema validator: the same
schemas and the same verdicts as the command line, about twice as fast per object and without the
per-call loading. Recursive definitions keep their ``$ref`` and resolve through a registry.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from mlops.core.spec.types import SUPPORTED_K8S

_DEFS_PREFIXES = ("/api/_definitions.json#/$defs/", "#/$defs/")  # from a kind's schema, within the definitions
_DEFS_URI = "https://kubernetes.io/api/_definitions.json#/$defs/"
_DROP = frozenset({"description", "format"})  # format is not asserted by jsonschema anyway
_KEEP_VERBATIM = frozenset({"enum", "required"})


def _dropped(key: str) -> bool:
    """Annotations that assert nothing: descriptions, formats, Kubernetes' ``x-kubernetes-*`` extensions."""
    return key in _DROP or key.startswith("x-kubernetes-")


class SchemaError(Exception):
    """An object does not match its schema (or no schema exists for it)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}" if field else message)


@lru_cache(maxsize=32)
def schema_version(version: str) -> str:
    """The schema directory version for a cluster ``version`` like '1.31' (the newest not newer than it)."""
    from kubernetes_validate import utils

    minor = int(version.removeprefix("v").split(".")[1])
    if minor not in SUPPORTED_K8S:
        raise SchemaError("", f"Kubernetes {version} is not supported; expected 1.{SUPPORTED_K8S.start} … "
                              f"1.{SUPPORTED_K8S.stop - 1}")
    known = [v for v in utils.all_versions() if int(v.split(".")[1]) <= minor]
    if not known:
        raise SchemaError("", f"kubernetes-validate has no schemas for Kubernetes {version}")
    return known[-1]


@lru_cache(maxsize=8)
def _definitions(full_version: str) -> tuple[dict[str, Any], Any]:
    from kubernetes_validate import utils
    from referencing import Registry, Resource

    defs = utils.schema_contents(f"kubernetes-json-schema/v{full_version}-local-strict/_definitions.json",
                                 full_version)
    registry = Resource.from_contents(defs) @ Registry()
    return defs["$defs"], registry


def _deref(node: Any, defs: dict[str, Any], stack: tuple[str, ...]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        prefix = next((p for p in _DEFS_PREFIXES if isinstance(ref, str) and ref.startswith(p)), None)
        if prefix is not None:
            name = str(ref)[len(prefix):]
            if name in stack:  # recursive definition: keep the reference, the registry resolves it
                return {"$ref": _DEFS_URI + name}
            target = _deref(defs[name], defs, (*stack, name))
            rest = {k: v for k, v in node.items() if k != "$ref" and not _dropped(k)}
            return {"allOf": [target, _deref(rest, defs, stack)]} if rest else target
        return {k: (v if k in _KEEP_VERBATIM else _deref(v, defs, stack))
                for k, v in node.items() if not _dropped(k)}
    if isinstance(node, list):
        return [_deref(item, defs, stack) for item in node]
    return node


def _schema_name(api_version: str, kind: str) -> str:
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    return f"{kind.lower()}-{group_version}.json"


@lru_cache(maxsize=256)
def _validator(full_version: str, api_version: str, kind: str) -> Any:
    import jsonschema
    from kubernetes_validate import utils

    try:
        schema = utils.schema_contents(
            f"kubernetes-json-schema/v{full_version}-local-strict/{_schema_name(api_version, kind)}", full_version)
    except FileNotFoundError:
        return None
    defs, registry = _definitions(full_version)
    inlined = _deref(schema, defs, ())
    inlined["$id"] = schema.get("$id", "https://kubernetes.io/api/")
    return jsonschema.Draft202012Validator(inlined, registry=registry)


def field_path(parts: Any) -> str:
    """``("spec", "containers", 0, "image")`` → ``spec.containers[0].image``."""
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def validate(obj: dict[str, Any], version: str) -> None:
    """Raise :class:`SchemaError` unless ``obj`` matches the strict schema of its kind in Kubernetes ``version``."""
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        raise SchemaError("", "expected string 'apiVersion' and 'kind'")
    validator = _validator(schema_version(version), api_version, kind)
    if validator is None:
        raise SchemaError("apiVersion", f"no schema for kind {kind} in {api_version} in Kubernetes {version}; "
                                        "expected a built-in kind and API version")
    if validator.is_valid(obj):
        return
    import jsonschema

    best = jsonschema.exceptions.best_match(validator.iter_errors(obj))
    raise SchemaError(field_path(best.absolute_path), _message(best))


def _message(error: Any) -> str:
    if error.validator == "additionalProperties":
        return f"{error.message} (unknown field; expected one of the schema's fields)"
    return str(error.message)

#!/usr/bin/env python3
"""Regenerate the JSON schemas of the custom resources ``mlops render`` produces (``mlops/render/crds/*.json``).

The schemas come from the npm packages of kubernetes-models (``npm pack``; nothing is installed), one file per
kind we render, ``<group>_<version>_<kind>.json``: the kind's schema as the package ships it (an OpenAPI-style
JSON object literal inside the package's JS file), with its ``$ref``s to ``@kubernetes-models/apimachinery``
(ObjectMeta and what it references) bundled under ``$defs``, and an ``x-mlops-source`` entry recording the
package, its version and integrity, and the upstream CRDs the package was generated from. The validator
(``mlops.render.crdvalidate``) reads these files offline; nothing downloads at run time.

Versions: the newest releases of these packages (argo-rollouts 2.x, argo-cd 2.6+, flux-cd 2.3+,
prometheus-operator 4.4+, apimachinery 2+) ship ajv-compiled validators instead of schema literals, so the
versions below are the newest that still carry the schemas themselves. One field we render is newer than
the last schema-carrying argo-rollouts package (Argo Rollouts v1.5.0): ``Rollout.spec.workloadRef.scaleDown``
(Argo Rollouts v1.7). It is added by ``PATCHES`` only after checking that the newest package's type
declarations (``ObjectRef.d.ts`` of ``@kubernetes-models/argo-rollouts`` ``PATCH_SOURCE``) declare it with
that type.

Needs ``npm`` (the npm registry) and nothing else. Usage::

    python scripts/gen_crd_schemas.py
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "mlops" / "render" / "crds"
APIMACHINERY = ("@kubernetes-models/apimachinery", "1.2.2")
PACKAGES = {
    "@kubernetes-models/argo-rollouts": "0.3.2",
    "@kubernetes-models/argo-cd": "2.5.0",
    "@kubernetes-models/flux-cd": "2.2.1",
    "@kubernetes-models/prometheus-operator": "4.0.0",
}


@dataclass(frozen=True)
class Kind:
    package: str
    api_version: str
    kind: str

    @property
    def member(self) -> str:
        return f"{self.api_version}/{self.kind}.js"

    @property
    def filename(self) -> str:
        group, version = self.api_version.split("/")
        return f"{group}_{version}_{self.kind}.json"


# Exactly the kinds mlops render produces (tests/unit/render/test_crdvalidate.py checks both directions).
KINDS = [
    Kind("@kubernetes-models/argo-rollouts", "argoproj.io/v1alpha1", "Rollout"),
    Kind("@kubernetes-models/argo-rollouts", "argoproj.io/v1alpha1", "AnalysisTemplate"),
    Kind("@kubernetes-models/argo-cd", "argoproj.io/v1alpha1", "Application"),
    Kind("@kubernetes-models/flux-cd", "source.toolkit.fluxcd.io/v1", "GitRepository"),
    Kind("@kubernetes-models/flux-cd", "kustomize.toolkit.fluxcd.io/v1", "Kustomization"),
    Kind("@kubernetes-models/prometheus-operator", "monitoring.coreos.com/v1", "ServiceMonitor"),
    Kind("@kubernetes-models/prometheus-operator", "monitoring.coreos.com/v1", "PrometheusRule"),
]
# kind → (path of properties, field, schema, .d.ts member of PATCH_SOURCE that must declare it, its TS type)
PATCH_SOURCE = ("@kubernetes-models/argo-rollouts", "2.0.0")
PATCHES: dict[str, list[tuple[tuple[str, ...], str, dict[str, Any], str, str]]] = {
    "Rollout": [(("spec", "workloadRef"), "scaleDown", {"type": "string", "nullable": True},
                 "argoproj.io/v1alpha1/ObjectRef.d.ts", "string")],
}
SCHEMA_LITERAL = re.compile(r"\bconst schema = ")


@dataclass(frozen=True)
class Packed:
    tarball: Path
    version: str
    integrity: str

    def read(self, member: str) -> str:
        with tarfile.open(self.tarball, "r:gz") as tar:
            handle = tar.extractfile(f"package/{member}")
            if handle is None:
                raise SystemExit(f"{self.tarball.name} has no {member}")
            return handle.read().decode("utf-8")


def npm_pack(spec: str, into: Path) -> Packed:
    """``npm pack SPEC`` into ``into``: the tarball, the exact version and npm's integrity hash."""
    out = subprocess.run(["npm", "pack", "--json", "--silent", spec], cwd=into, check=True, capture_output=True,
                         text=True)
    (info,) = json.loads(out.stdout)
    return Packed(into / info["filename"], info["version"], info["integrity"])


def schema_literal(source: str, where: str) -> dict[str, Any]:
    """The JSON object literal assigned to ``const schema`` in a kubernetes-models JS file."""
    match = SCHEMA_LITERAL.search(source)
    if match is None:
        raise SystemExit(f"{where}: no 'const schema = {{…}}' literal (an ajv-compiled release?)")
    schema, _ = json.JSONDecoder().raw_decode(source, match.end())
    if not isinstance(schema, dict):
        raise SystemExit(f"{where}: the schema literal is not an object")
    return schema


def ref_target(ref: str) -> str:
    """``io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta#`` → ``io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta``."""
    if not ref.endswith("#") or "/" in ref:
        raise SystemExit(f"unexpected $ref {ref!r}; expected an apimachinery schema id such as "
                         "'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta#'")
    return ref[:-1]


def apimachinery_member(schema_id: str) -> str:
    return "_schemas/" + "".join(part[:1].upper() + part[1:] for part in schema_id.split(".")) + ".js"


def rewrite_refs(node: Any, found: set[str]) -> Any:
    """Point every ``$ref`` at ``#/$defs/<id>`` and collect the ids."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                target = ref_target(value)
                found.add(target)
                out[key] = f"#/$defs/{target}"
            else:
                out[key] = rewrite_refs(value, found)
        return out
    if isinstance(node, list):
        return [rewrite_refs(item, found) for item in node]
    return node


def bundle(schema: dict[str, Any], apimachinery: Packed) -> dict[str, Any]:
    """``schema`` with its references (transitively) under ``$defs``."""
    pending: set[str] = set()
    root = rewrite_refs(schema, pending)
    defs: dict[str, Any] = {}
    while pending:
        schema_id = pending.pop()
        if schema_id in defs:
            continue
        member = apimachinery_member(schema_id)
        more: set[str] = set()
        defs[schema_id] = rewrite_refs(schema_literal(apimachinery.read(member), member), more)
        pending |= more - set(defs)
    if defs:
        root["$defs"] = dict(sorted(defs.items()))
    return root


def patch(kind: Kind, schema: dict[str, Any], newest: Packed) -> list[str]:
    applied = []
    for path, name, field_schema, member, ts_type in PATCHES.get(kind.kind, []):
        declaration = newest.read(member)
        if not re.search(rf'"{re.escape(name)}"\?: {re.escape(ts_type)};', declaration):
            raise SystemExit(f"{PATCH_SOURCE[0]}@{newest.version} {member} does not declare {name}: {ts_type}; "
                             "drop or fix the patch")
        node = schema
        for part in path:
            node = node["properties"][part]
        if name in node["properties"]:
            raise SystemExit(f"{kind.kind}: {'.'.join(path)}.{name} is in the package already; drop the patch")
        node["properties"][name] = field_schema
        applied.append(f"{'.'.join(path)}.{name} {json.dumps(field_schema, sort_keys=True)} (declared in "
                       f"{PATCH_SOURCE[0]}@{newest.version} {member})")
    return applied


def generate(tmp: Path) -> dict[str, dict[str, Any]]:
    packed = {name: npm_pack(f"{name}@{version}", tmp) for name, version in PACKAGES.items()}
    apimachinery = npm_pack(f"{APIMACHINERY[0]}@{APIMACHINERY[1]}", tmp)
    newest = npm_pack(f"{PATCH_SOURCE[0]}@{PATCH_SOURCE[1]}", tmp)
    outputs: dict[str, dict[str, Any]] = {}
    for kind in KINDS:
        package = packed[kind.package]
        manifest = json.loads(package.read("package.json"))
        schema = schema_literal(package.read(kind.member), f"{kind.package} {kind.member}")
        schema = bundle(schema, apimachinery)
        source = {
            "package": kind.package, "version": package.version, "integrity": package.integrity,
            "file": kind.member, "upstream": manifest.get("crd-generate", {}).get("input", []),
            "refs": {"package": APIMACHINERY[0], "version": apimachinery.version,
                     "integrity": apimachinery.integrity},
            "patches": patch(kind, schema, newest),
        }
        outputs[kind.filename] = {"x-mlops-source": source, "x-mlops-kind": {"apiVersion": kind.api_version,
                                                                            "kind": kind.kind}, **schema}
    return outputs


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="crd-schemas-") as tmp:
        outputs = generate(Path(tmp))
    OUT.mkdir(parents=True, exist_ok=True)
    for stale in OUT.glob("*.json"):
        if stale.name not in outputs:
            stale.unlink()
    total = 0
    for filename, schema in sorted(outputs.items()):
        text = json.dumps(schema, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"
        (OUT / filename).write_text(text, encoding="utf-8")
        total += len(text)
    print(f"wrote {len(outputs)} schemas to {OUT.relative_to(ROOT)} ({total // 1024} KiB): "
          + ", ".join(f"{name}@{version}" for name, version in PACKAGES.items()), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

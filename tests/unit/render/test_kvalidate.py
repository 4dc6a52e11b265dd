"""Strict schema validation through kubernetes-validate's schemas (cached, dereferenced)."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops.render import kvalidate
from mlops.render.kvalidate import SchemaError

SERVICE: dict[str, Any] = {
    "apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "n"},
    "spec": {"selector": {"a": "b"}, "ports": [{"name": "http", "port": 8080, "targetPort": "http"}]},
}


def test_valid_object_passes() -> None:
    kvalidate.validate(SERVICE, "1.31")


def test_unknown_field_is_named() -> None:
    bad = copy.deepcopy(SERVICE)
    bad["spec"]["ports"][0]["portt"] = 1
    with pytest.raises(SchemaError) as info:
        kvalidate.validate(bad, "1.31")
    assert info.value.field == "spec.ports[0]"
    assert "'portt' was unexpected" in info.value.message


def test_wrong_type_is_named() -> None:
    bad = copy.deepcopy(SERVICE)
    bad["spec"]["ports"][0]["port"] = "eighty"
    with pytest.raises(SchemaError) as info:
        kvalidate.validate(bad, "1.31")
    assert info.value.field == "spec.ports[0].port"


def test_unknown_kind() -> None:
    with pytest.raises(SchemaError, match="no schema for kind Gizmo"):
        kvalidate.validate({"apiVersion": "v1", "kind": "Gizmo", "metadata": {"name": "g"}}, "1.31")


def test_field_newer_than_the_environment_version_fails() -> None:
    # Pod-level appArmorProfile arrived in 1.30: strict 1.29 schemas reject it
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": {"containers": [{"name": "c", "image": "i"}],
                    "securityContext": {"appArmorProfile": {"type": "RuntimeDefault"}}}}
    kvalidate.validate(pod, "1.30")
    with pytest.raises(SchemaError) as info:
        kvalidate.validate(pod, "1.29")
    assert info.value.field == "spec.securityContext"


def test_schema_version() -> None:
    assert kvalidate.schema_version("1.31") == "1.31.0"
    with pytest.raises(SchemaError, match="not supported"):
        kvalidate.schema_version("1.12")


def test_same_verdicts_as_the_kubernetes_validate_command(tmp_path: Path) -> None:
    bad = copy.deepcopy(SERVICE)
    bad["spec"]["bogus"] = True
    for obj, ok in ((SERVICE, True), (bad, False)):
        file = tmp_path / "o.yaml"
        file.write_text(yaml.safe_dump(obj))
        cli = subprocess.run([sys.executable, "-m", "kubernetes_validate", "--strict", "-k", "1.31", str(file)],
                             capture_output=True, text=True, check=False)
        assert (cli.returncode == 0) == ok, cli.stdout
        if ok:
            kvalidate.validate(obj, "1.31")
        else:
            with pytest.raises(SchemaError):
                kvalidate.validate(obj, "1.31")

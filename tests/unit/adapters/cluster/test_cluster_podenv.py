"""A container becomes a local command line and environment the way the kubelet would build them."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mlops.adapters.cluster.base import ClusterError
from mlops.adapters.cluster.podenv import (
    PodContext,
    command_line,
    container_env,
    expand,
    localize,
    map_ports,
    resolve_program,
)

INDEX_ANNOTATION = "metadata.annotations['batch.kubernetes.io/job-completion-index']"
POD = PodContext(name="train-x-1-abcde", namespace="ml", uid="u-1", index=1,
                 labels={"app": "train"}, annotations={"batch.kubernetes.io/job-completion-index": "1"})


def test_expand_follows_kubernetes_rules() -> None:
    env = {"A": "1", "B": "two"}
    assert expand("$(A)-$(B)", env) == "1-two"
    assert expand("$(MISSING) stays", env) == "$(MISSING) stays"
    assert expand("$$(A) is escaped, $$ alone too", env) == "$(A) is escaped, $ alone too"
    assert expand("$A is shell syntax, not expanded", env) == "$A is shell syntax, not expanded"


def test_env_resolves_values_fields_and_the_index_in_order() -> None:
    container = {"name": "trainer", "env": [
        {"name": "NODE_RANK", "valueFrom": {"fieldRef": {"fieldPath": INDEX_ANNOTATION}}},
        {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
        {"name": "RANK_TAG", "value": "rank-$(NODE_RANK)-$(LATER)"},
        {"name": "LATER", "value": "x"},
    ]}
    env = container_env(container, POD, {})
    assert env == {"JOB_COMPLETION_INDEX": "1", "NODE_RANK": "1", "POD": "train-x-1-abcde", "IP": "127.0.0.1",
                   "APP": "train", "RANK_TAG": "rank-1-$(LATER)", "LATER": "x"}


def test_env_from_configmaps_applied_with_the_job() -> None:
    container = {"name": "c", "envFrom": [{"configMapRef": {"name": "settings"}, "prefix": "CFG_"}],
                 "env": [{"name": "LR", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "lr"}}}]}
    env = container_env(container, POD, {"settings": {"lr": "0.1", "epochs": "3"}})
    assert env["CFG_epochs"] == "3" and env["LR"] == "0.1"
    with pytest.raises(ClusterError, match="ConfigMap 'settings', which was not applied"):
        container_env(container, POD, {})


def test_secrets_are_never_read_but_the_callers_environment_can_provide_them(
        monkeypatch: pytest.MonkeyPatch) -> None:
    container = {"name": "c", "env": [
        {"name": "AWS_SECRET_ACCESS_KEY", "valueFrom": {"secretKeyRef": {"name": "dvc-remote", "key": "secret"}}}]}
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    with pytest.raises(ClusterError, match="does not read Secrets; export AWS_SECRET_ACCESS_KEY") as err:
        container_env(container, POD, {})
    assert "dvc-remote" in str(err.value)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "from-shell")
    assert container_env(container, POD, {})["AWS_SECRET_ACCESS_KEY"] == "from-shell"
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    container["env"][0]["valueFrom"]["secretKeyRef"]["optional"] = True
    assert "AWS_SECRET_ACCESS_KEY" not in container_env(container, POD, {})


def test_unsupported_value_sources_are_named() -> None:
    container = {"name": "c", "env": [{"name": "CPUS", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}}]}
    with pytest.raises(ClusterError, match="env CPUS of container 'c'"):
        container_env(container, POD, {})


def test_cluster_dns_names_of_applied_services_resolve_to_localhost() -> None:
    svc, ns = "train-digits-abc", "ml"
    assert localize(f"--master-addr={svc}-0.{svc}", [svc], ns) == "--master-addr=127.0.0.1"
    assert localize(f"{svc}-1.{svc}.ml.svc.cluster.local:29500", [svc], ns) == "127.0.0.1:29500"
    assert localize(f"http://{svc}.ml.svc:80/x", [svc], ns) == "http://127.0.0.1:80/x"
    # the bare name is also the Job's name: never rewritten; nor are other services or longer names
    assert localize(f"--run-name={svc}", [svc], ns) == f"--run-name={svc}"
    assert localize(f"x-0.other-{svc}", [svc], ns) == f"x-0.other-{svc}"
    assert localize(f"x-0.{svc}.example.com", [svc], ns) == f"x-0.{svc}.example.com"


def test_service_ports_map_to_local_ports() -> None:
    argv = ["torchrun", "--master-port=29500", "--rdzv-endpoint=127.0.0.1:29500", "--master_port", "29500",
            "--epochs", "29500", "127.0.0.1:295001"]
    assert map_ports(argv, {29500: 40123}) == [
        "torchrun", "--master-port=40123", "--rdzv-endpoint=127.0.0.1:40123", "--master_port", "40123",
        "--epochs", "29500", "127.0.0.1:295001"]


def test_programs_resolve_to_this_interpreter_and_its_environment(tmp_path: Path) -> None:
    assert resolve_program("python") == sys.executable
    assert resolve_program("python3.11") == sys.executable
    beside = Path(sys.executable).parent
    tool = next(p for p in ("torchrun", "pip", "ruff") if (beside / p).is_file())
    assert resolve_program(f"/opt/image/venv/bin/{tool}") == str(beside / tool)
    assert resolve_program("sh").endswith("/sh")
    with pytest.raises(ClusterError, match="'no-such-program-here', which is not installed here"):
        resolve_program("no-such-program-here")


def test_command_line_expands_command_and_args_and_needs_a_command() -> None:
    container = {"name": "c", "command": ["python", "-c"], "args": ["print($(N))"]}
    assert command_line(container, {"N": "3"}) == [sys.executable, "-c", "print(3)"]
    with pytest.raises(ClusterError, match="sets no command"):
        command_line({"name": "c", "args": ["x"]}, {})

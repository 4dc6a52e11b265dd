"""Our Pod Security Standards "restricted" check (plus mlops's read-only root filesystem)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from mlops.render import pss


def deployment() -> dict[str, Any]:
    """A Deployment that meets the restricted profile."""
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "m"},
        "spec": {"template": {"metadata": {}, "spec": {
            "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{"name": "c", "image": "i", "securityContext": {
                "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                "capabilities": {"drop": ["ALL"]}}}],
            "volumes": [{"name": "tmp", "emptyDir": {}}, {"name": "cfg", "configMap": {"name": "x"}}],
        }}},
    }


POD = "spec.template.spec"
C0 = f"{POD}.containers[0]"


def test_restricted_deployment_passes() -> None:
    assert pss.check(deployment()) == []


def test_kinds_without_pods_are_not_checked() -> None:
    assert pss.check({"kind": "Service", "spec": {}}) == []


def _set(obj: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    obj = copy.deepcopy(obj)
    node: Any = obj
    keys = path.replace("[", ".").replace("]", "").split(".")
    for key in keys[:-1]:
        node = node[int(key)] if key.isdigit() else node.setdefault(key, {})
    last: Any = int(keys[-1]) if keys[-1].isdigit() else keys[-1]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return obj


_DELETE = object()

CASES = [
    (f"{POD}.hostNetwork", True, f"{POD}.hostNetwork", "host namespaces"),
    (f"{POD}.hostPID", True, f"{POD}.hostPID", "host namespaces"),
    (f"{C0}.securityContext.privileged", True, f"{C0}.securityContext.privileged", "privileged"),
    (f"{C0}.securityContext.allowPrivilegeEscalation", _DELETE, f"{C0}.securityContext.allowPrivilegeEscalation",
     "must be false"),
    (f"{C0}.securityContext.allowPrivilegeEscalation", True, f"{C0}.securityContext.allowPrivilegeEscalation",
     "must be false"),
    (f"{C0}.securityContext.readOnlyRootFilesystem", False, f"{C0}.securityContext.readOnlyRootFilesystem",
     "must be true"),
    (f"{C0}.securityContext.capabilities.drop", ["NET_RAW"], f"{C0}.securityContext.capabilities.drop",
     "must include ALL"),
    (f"{C0}.securityContext.capabilities.add", ["SYS_ADMIN"], f"{C0}.securityContext.capabilities.add[0]",
     "SYS_ADMIN"),
    (f"{C0}.securityContext.runAsNonRoot", False, f"{C0}.securityContext.runAsNonRoot", "must be true"),
    (f"{C0}.securityContext.runAsUser", 0, f"{C0}.securityContext.runAsUser", "non-zero"),
    (f"{POD}.securityContext.runAsUser", 0, f"{POD}.securityContext.runAsUser", "non-zero"),
    (f"{POD}.securityContext.runAsNonRoot", _DELETE, f"{C0}.securityContext.runAsNonRoot", "must be true"),
    (f"{POD}.securityContext.seccompProfile", _DELETE, f"{C0}.securityContext.seccompProfile.type",
     "RuntimeDefault or Localhost"),
    (f"{POD}.securityContext.seccompProfile.type", "Unconfined", f"{POD}.securityContext.seccompProfile.type",
     "Unconfined"),
    (f"{POD}.volumes[0]", {"name": "h", "hostPath": {"path": "/"}}, f"{POD}.volumes[0].hostPath", "hostPath"),
    (f"{C0}.ports", [{"containerPort": 80, "hostPort": 80}], f"{C0}.ports[0].hostPort", "host ports"),
    (f"{C0}.securityContext.procMount", "Unmasked", f"{C0}.securityContext.procMount", "Default"),
    (f"{POD}.securityContext.sysctls", [{"name": "kernel.msgmax", "value": "1"}],
     f"{POD}.securityContext.sysctls[0].name", "safe set"),
    (f"{C0}.securityContext.seLinuxOptions", {"type": "spc_t"}, f"{C0}.securityContext.seLinuxOptions.type",
     "spc_t"),
]


@pytest.mark.parametrize(("path", "value", "field", "words"), CASES, ids=[c[0] + "=" + str(c[1]) for c in CASES])
def test_each_violation_names_its_field(path: str, value: Any, field: str, words: str) -> None:
    violations = pss.check(_set(deployment(), path, value))
    assert any(f == field and words in message for f, message in violations), violations


def test_init_containers_are_checked_too() -> None:
    obj = deployment()
    obj["spec"]["template"]["spec"]["initContainers"] = [{"name": "init", "image": "i"}]
    fields = {f for f, _ in pss.check(obj)}
    assert f"{POD}.initContainers[0].securityContext.allowPrivilegeEscalation" in fields
    assert f"{POD}.initContainers[0].securityContext.capabilities.drop" in fields


def test_cron_job_pod_spec_path() -> None:
    pod = deployment()["spec"]["template"]
    pod["spec"]["hostIPC"] = True
    cron = {"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": pod}}}}
    assert [f for f, _ in pss.check(cron)] == ["spec.jobTemplate.spec.template.spec.hostIPC"]


def test_a_rollout_is_checked_unless_it_references_the_deployment() -> None:
    from mlops.render import pss

    by_ref = {"kind": "Rollout", "spec": {"workloadRef": {"kind": "Deployment", "name": "m"}}}
    assert pss.check(by_ref) == []
    inline = {"kind": "Rollout", "spec": {"template": {"spec": {"hostNetwork": True, "containers": []}}}}
    assert ("spec.template.spec.hostNetwork", "must be false or unset (host namespaces are not allowed)") in \
        pss.check(inline)

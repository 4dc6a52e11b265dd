"""Our own check of the Pod Security Standards "restricted" profile (plus a read-only root filesystem).

The same rules the API server's PodSecurity admission applies at ``enforce: restricted`` (baseline and
restricted controls of https://kubernetes.io/docs/concepts/security/pod-security-standards/), checked
before anything reaches a cluster, so a template override that weakens a pod fails ``mlops render``
with the exact field. mlops additionally requires ``readOnlyRootFilesystem: true`` in every container.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

# kind → path of the pod spec inside the object
POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "Rollout": ("spec", "template", "spec"),  # Argo Rollouts: unless it takes the pod template by workloadRef
}
ALLOWED_VOLUMES = frozenset({"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
                             "projected", "secret"})
SAFE_SYSCTLS = frozenset({
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
})
SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"})
SECCOMP_OK = frozenset({"RuntimeDefault", "Localhost"})
APPARMOR_OK = frozenset({"RuntimeDefault", "Localhost"})
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")

Violation = tuple[str, str]  # (field path, what is wrong and what is expected)


def _dotted(parts: tuple[str | int, ...]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _get(obj: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def check(obj: dict[str, Any]) -> list[Violation]:
    """Every restricted-profile violation of the pod inside ``obj`` (empty for kinds without pods)."""
    path = POD_SPEC_PATHS.get(str(obj.get("kind")))
    if path is None or (obj.get("kind") == "Rollout" and _get(obj, "spec", "workloadRef") is not None
                        and _get(obj, *path[:-1]) is None):
        return []
    spec = _get(obj, *path)
    if not isinstance(spec, dict):
        return [(_dotted(path), "missing pod spec")]
    meta_path = (*path[:-1], "metadata")
    return list(_pod(spec, path, _get(obj, *meta_path) or {}, meta_path))


def _pod(spec: dict[str, Any], at: tuple[str, ...], meta: dict[str, Any],
         meta_at: tuple[str, ...]) -> Iterator[Violation]:
    for host in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(host):
            yield _dotted((*at, host)), "must be false or unset (host namespaces are not allowed)"
    pod_sc = spec.get("securityContext") or {}
    sc_at = (*at, "securityContext")
    yield from _common_sc(pod_sc, sc_at)
    for i, sysctl in enumerate(pod_sc.get("sysctls") or []):
        if sysctl.get("name") not in SAFE_SYSCTLS:
            yield _dotted((*sc_at, "sysctls", i, "name")), f"sysctl {sysctl.get('name')!r} is not in the safe set"
    for i, volume in enumerate(spec.get("volumes") or []):
        kinds = set(volume) - {"name"}
        for bad in sorted(kinds - ALLOWED_VOLUMES):
            yield _dotted((*at, "volumes", i, bad)), (f"volume type {bad!r} is not allowed; expected one of "
                                                      f"{sorted(ALLOWED_VOLUMES)}")
    annotations = meta.get("annotations") or {}
    for key, value in sorted(annotations.items()):
        if key.startswith("container.apparmor.security.beta.kubernetes.io/") and not (
                value == "runtime/default" or str(value).startswith("localhost/")):
            yield _dotted((*meta_at, "annotations", key)), "AppArmor profile must be runtime/default or localhost/*"
    pod_non_root = pod_sc.get("runAsNonRoot") is True
    pod_seccomp = _get(pod_sc, "seccompProfile", "type")
    for list_name in CONTAINER_LISTS:
        for i, container in enumerate(spec.get(list_name) or []):
            yield from _container(container, (*at, list_name, i), pod_non_root, pod_seccomp in SECCOMP_OK)


def _common_sc(sc: dict[str, Any], at: tuple[str | int, ...]) -> Iterator[Violation]:
    """Controls that apply to the pod's and to each container's securityContext alike."""
    if sc.get("runAsNonRoot") is False:
        yield _dotted((*at, "runAsNonRoot")), "must be true (containers must not run as root)"
    if sc.get("runAsUser") == 0:
        yield _dotted((*at, "runAsUser")), "must be a non-zero UID"
    seccomp = _get(sc, "seccompProfile", "type")
    if seccomp is not None and seccomp not in SECCOMP_OK:
        yield _dotted((*at, "seccompProfile", "type")), f"is {seccomp!r}; expected RuntimeDefault or Localhost"
    apparmor = _get(sc, "appArmorProfile", "type")
    if apparmor is not None and apparmor not in APPARMOR_OK:
        yield _dotted((*at, "appArmorProfile", "type")), f"is {apparmor!r}; expected RuntimeDefault or Localhost"
    selinux = sc.get("seLinuxOptions") or {}
    if selinux.get("type", "") not in SELINUX_TYPES:
        yield _dotted((*at, "seLinuxOptions", "type")), f"SELinux type {selinux.get('type')!r} is not allowed"
    for key in ("user", "role"):
        if selinux.get(key):
            yield _dotted((*at, "seLinuxOptions", key)), "must be unset"
    if _get(sc, "windowsOptions", "hostProcess"):
        yield _dotted((*at, "windowsOptions", "hostProcess")), "must be false (host processes are not allowed)"


def _container(c: dict[str, Any], at: tuple[str | int, ...], pod_non_root: bool,
               pod_seccomp: bool) -> Iterator[Violation]:
    sc = c.get("securityContext") or {}
    sc_at = (*at, "securityContext")
    yield from _common_sc(sc, sc_at)
    if sc.get("privileged"):
        yield _dotted((*sc_at, "privileged")), "must be false (privileged containers are not allowed)"
    if sc.get("allowPrivilegeEscalation") is not False:
        yield _dotted((*sc_at, "allowPrivilegeEscalation")), "must be false"
    if not pod_non_root and sc.get("runAsNonRoot") is not True:
        yield _dotted((*sc_at, "runAsNonRoot")), "must be true (here or in the pod's securityContext)"
    if not pod_seccomp and _get(sc, "seccompProfile", "type") not in SECCOMP_OK:
        yield _dotted((*sc_at, "seccompProfile", "type")), ("must be RuntimeDefault or Localhost "
                                                            "(here or in the pod's securityContext)")
    caps = sc.get("capabilities") or {}
    if "ALL" not in (caps.get("drop") or []):
        yield _dotted((*sc_at, "capabilities", "drop")), "must include ALL"
    for j, cap in enumerate(caps.get("add") or []):
        if cap != "NET_BIND_SERVICE":
            yield (_dotted((*sc_at, "capabilities", "add", j)),
                   f"capability {cap!r} may not be added; only NET_BIND_SERVICE")
    if sc.get("procMount", "Default") != "Default":
        yield _dotted((*sc_at, "procMount")), "must be Default"
    if sc.get("readOnlyRootFilesystem") is not True:
        yield _dotted((*sc_at, "readOnlyRootFilesystem")), "must be true (mlops policy; write only to emptyDir volumes)"
    for j, port in enumerate(c.get("ports") or []):
        if port.get("hostPort"):
            yield _dotted((*at, "ports", j, "hostPort")), "must be unset (host ports are not allowed)"

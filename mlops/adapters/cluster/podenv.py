"""Turn a pod template's container into a local command line and environment, as the kubelet would.

- ``env`` / ``envFrom`` are resolved in Kubernetes' order; ``$(VAR)`` in values, ``command`` and ``args``
  expands from the container's own variables (``$$`` is a literal ``$``); unknown references stay as they are.
- Indexed Jobs get ``JOB_COMPLETION_INDEX`` (and the index annotation for ``fieldRef``) like the Job controller
  sets them; the pod's IPs and the cluster DNS names of the applied Services (``{job}-0.{service}``,
  ``….{ns}.svc.cluster.local``) resolve to ``127.0.0.1`` and ``MASTER_ADDR`` is ``127.0.0.1``; each Service
  port becomes a free local port in ``127.0.0.1:PORT``, ``--master-port`` and ``MASTER_PORT``, so several
  local Jobs never collide. ``HOME`` and ``PATH`` stay this machine's.
- Secrets are not read (``envFrom`` Secrets are skipped): a variable taken from a Secret must already be in
  the caller's environment, which every pod inherits.
- Each ``emptyDir`` volume is a directory of its own per pod; ``command``, ``args`` and ``env`` values that
  name a path under its ``mountPath`` (``/scratch/repo``, ``--workdir=/scratch/repo``, ``PATH=a:/scratch``)
  point into that directory instead. ``/tmp`` and ``/dev/shm`` are this machine's.
- ``python``/``python3`` run this interpreter; other programs are looked up beside it (the virtualenv's
  ``torchrun``, ``mlops``) and then on ``PATH``; an image path like ``/opt/venv/bin/torchrun`` by its name.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops.adapters.cluster.base import ClusterError

NODE_OWNED = frozenset({"HOME", "PATH"})  # the image's values would break this machine's programs
NODE_PATHS = frozenset({"/tmp", "/dev/shm"})  # volumes mounted there are this machine's directories
_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")
_FIELD = re.compile(r"^metadata\.(labels|annotations)\['([^']+)'\]$")
LOCALHOST = "127.0.0.1"


@dataclass(frozen=True)
class PodContext:
    """What the kubelet knows about the pod being started."""

    name: str
    namespace: str
    uid: str
    index: int | None
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    service_account: str = "default"


def expand(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes' ``$(VAR)`` expansion: defined variables are replaced, ``$$`` becomes ``$``."""
    def sub(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env[name] if name in env else match.group(0)

    return _REF.sub(sub, text)


def localize(text: str, services: Sequence[str], namespace: str) -> str:
    """Cluster DNS names of the applied Services → ``127.0.0.1``: ``<pod>.<svc>``, ``<svc>.<ns>``, ``….svc``,
    ``….svc.cluster.local``. A bare ``<svc>`` is left alone: it is usually also the Job's name."""
    for svc in services:
        ns = re.escape(namespace)
        pod_host = rf"[a-z0-9-]+\.{re.escape(svc)}(?:\.{ns}(?:\.svc(?:\.cluster\.local)?)?)?"
        svc_host = rf"{re.escape(svc)}\.{ns}(?:\.svc(?:\.cluster\.local)?)?"
        text = re.sub(rf"(?<![a-z0-9.-])(?:{pod_host}|{svc_host})(?![a-z0-9-]|\.[a-z0-9])", LOCALHOST, text)
    return text


def map_ports(argv: Sequence[str], ports: Mapping[int, int]) -> list[str]:
    """Service ports → this Job's local ports in ``127.0.0.1:PORT`` and ``--master-port[=]PORT`` arguments."""
    out: list[str] = []
    for arg in argv:
        for old, new in ports.items():
            arg = re.sub(rf"(?<=127\.0\.0\.1:){old}(?!\d)", str(new), arg)
            arg = re.sub(rf"^(--master[-_]port=){old}$", rf"\g<1>{new}", arg)
            if out and re.fullmatch(r"--master[-_]port", out[-1]) and arg == str(old):
                arg = str(new)
        out.append(arg)
    return out


def map_paths(text: str, mounts: Mapping[str, str]) -> str:
    """Paths under a volume's mount path (``mounts``: mountPath → local directory) → under its directory.

    A path counts where it starts the text or follows ``=`` or ``:``, and ends there or at ``/`` or ``:``.
    """
    for mount, local in mounts.items():
        pattern = rf"(^|[=:]){re.escape(mount.rstrip('/'))}(?=$|[/:])"
        text = re.sub(pattern, lambda m: m.group(1) + local, text)  # noqa: B023 - used at once, in this loop
    return text


def _field(path: str, pod: PodContext) -> str | None:
    simple = {"metadata.name": pod.name, "metadata.namespace": pod.namespace, "metadata.uid": pod.uid,
              "spec.nodeName": "localhost", "spec.serviceAccountName": pod.service_account,
              "status.podIP": LOCALHOST, "status.hostIP": LOCALHOST, "status.podIPs": LOCALHOST,
              "status.hostIPs": LOCALHOST}
    if path in simple:
        return simple[path]
    match = _FIELD.match(path)
    if match:
        source = pod.labels if match.group(1) == "labels" else pod.annotations
        return source.get(match.group(2))
    return None


def _from_source(var: str, ref: Mapping[str, Any], kind: str, configmaps: Mapping[str, Mapping[str, str]],
                 container: str) -> str | None:
    optional = bool(ref.get("optional"))
    if kind == "configMapKeyRef":
        data = configmaps.get(str(ref.get("name")))
        if data is not None and ref.get("key") in data:
            return data[str(ref["key"])]
    if var in os.environ:
        return os.environ[var]
    if optional:
        return None
    where = f"{'ConfigMap' if kind == 'configMapKeyRef' else 'Secret'} {ref.get('name')!r} key {ref.get('key')!r}"
    hint = "apply that ConfigMap with the Job, or export" if kind == "configMapKeyRef" else \
        "the local target does not read Secrets; export"
    raise ClusterError(f"env {var} of container {container!r} comes from {where}: {hint} {var} in your shell",
                       source="local")


def container_env(container: Mapping[str, Any], pod: PodContext,
                  configmaps: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """The variables Kubernetes would define in ``container`` (not the node's), in its resolution order."""
    cname = str(container.get("name", "?"))
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        ref = source.get("configMapRef")
        if ref is not None:
            data = configmaps.get(str(ref.get("name")))
            if data is None and not ref.get("optional"):
                raise ClusterError(f"envFrom of container {cname!r} names ConfigMap {ref.get('name')!r}, which was "
                                   "not applied with the Job", source="local")
            env.update({f"{source.get('prefix', '')}{k}": v for k, v in (data or {}).items()})
    if pod.index is not None:  # the Job controller adds it to every container of an Indexed Job
        env["JOB_COMPLETION_INDEX"] = str(pod.index)
    for item in container.get("env") or []:
        name, value_from = str(item["name"]), item.get("valueFrom")
        if value_from is None:
            env[name] = expand(str(item.get("value", "")), env)
            continue
        if "fieldRef" in value_from:
            value = _field(str(value_from["fieldRef"].get("fieldPath")), pod)
        elif "configMapKeyRef" in value_from or "secretKeyRef" in value_from:
            kind = "configMapKeyRef" if "configMapKeyRef" in value_from else "secretKeyRef"
            value = _from_source(name, value_from[kind], kind, configmaps, cname)
        else:
            raise ClusterError(f"env {name} of container {cname!r}: the local target resolves value, fieldRef, "
                               "configMapKeyRef and secretKeyRef only", source="local")
        if value is not None:
            env[name] = value
    return env


def resolve_program(name: str) -> str:
    """Where the image's program is on this machine."""
    base = Path(name).name
    if "/" in name and Path(name).is_file():
        return name
    if re.fullmatch(r"python(3(\.\d+)?)?", base):
        return sys.executable
    beside = Path(sys.executable).parent / base
    if beside.is_file():
        return str(beside)
    found = shutil.which(base)
    if found:
        return found
    raise ClusterError(f"the Job runs {name!r}, which is not installed here (looked beside {sys.executable} "
                       "and on PATH)", source="local")


def command_line(container: Mapping[str, Any], env: Mapping[str, str]) -> list[str]:
    """The container's ``command`` + ``args``, expanded; the image's entrypoint is unknown locally."""
    command = [str(a) for a in container.get("command") or []]
    if not command:
        raise ClusterError(f"container {container.get('name')!r} sets no command; the local target cannot know "
                           "the image's entrypoint", source="local")
    argv = [expand(a, env) for a in [*command, *(str(a) for a in container.get("args") or [])]]
    return [resolve_program(argv[0]), *argv[1:]]

"""How many CPUs this process may really use: the cgroup quota, not the host's core count.

A container limited to ``cpu: 500m`` on a 64-core node still sees 64 cores in ``os.cpu_count()``; running
64 intra-op threads there makes every forward pass fight the CFS throttle. The quota (cgroup v2
``cpu.max``, cgroup v1 ``cpu.cfs_quota_us``/``cpu.cfs_period_us``) and the affinity mask bound it.
"""

from __future__ import annotations

import contextlib
import math
import os
from pathlib import Path

CGROUP = Path("/sys/fs/cgroup")


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii").strip()
    except OSError:
        return None


def cgroup_quota(root: Path = CGROUP) -> float | None:
    """CPUs granted by the cgroup quota (e.g. 0.5 for ``500m``), or None when unlimited or unknown."""
    v2 = _read(root / "cpu.max")
    if v2:
        quota, _, period = v2.partition(" ")
        if quota != "max" and period:
            try:
                return int(quota) / int(period)
            except ValueError:
                return None
        return None
    for base in (root / "cpu", root / "cpu,cpuacct", root):
        quota_s, period_s = _read(base / "cpu.cfs_quota_us"), _read(base / "cpu.cfs_period_us")
        if quota_s is None or period_s is None:
            continue
        try:
            quota_us, period_us = int(quota_s), int(period_s)
        except ValueError:
            return None
        return quota_us / period_us if quota_us > 0 and period_us > 0 else None
    return None


def available_cpus(root: Path = CGROUP) -> int:
    """Whole CPUs this process can use: min(affinity mask, ceil(cgroup quota)), at least 1."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    quota = cgroup_quota(root)
    if quota is not None:
        cpus = min(cpus, max(1, math.ceil(quota)))
    return max(1, cpus)


def configure_torch_threads(threads: int | None = None) -> int:
    """Set torch's intra-op threads to the CPUs available (inter-op: 1, batches run one at a time)."""
    import torch

    n = threads or available_cpus()
    torch.set_num_threads(n)
    with contextlib.suppress(RuntimeError):  # already set, or parallel work started: keep torch's choice
        torch.set_num_interop_threads(1)
    return n

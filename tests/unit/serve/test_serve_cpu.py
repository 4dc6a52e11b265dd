"""Torch threads follow the cgroup CPU quota (v2 and v1), capped by the affinity mask — never the host's cores."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mlops.serve import cpu


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


@pytest.mark.parametrize(("files", "quota"), [
    ({"cpu.max": "max 100000\n"}, None),
    ({"cpu.max": "50000 100000\n"}, 0.5),
    ({"cpu.max": "250000 100000\n"}, 2.5),
    ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
    ({"cpu/cpu.cfs_quota_us": "150000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 1.5),
    ({"cpu,cpuacct/cpu.cfs_quota_us": "200000\n", "cpu,cpuacct/cpu.cfs_period_us": "100000\n"}, 2.0),
    ({"cpu.max": "garbage\n"}, None),
    ({}, None),
])
def test_quota_from_cgroup_v2_and_v1(tmp_path: Path, files: dict[str, str], quota: float | None) -> None:
    assert cpu.cgroup_quota(write(tmp_path, files)) == quota


def test_available_cpus_is_the_quota_rounded_up_capped_by_affinity(tmp_path: Path) -> None:
    affinity = len(os.sched_getaffinity(0))
    assert cpu.available_cpus(write(tmp_path / "half", {"cpu.max": "50000 100000"})) == 1
    assert cpu.available_cpus(write(tmp_path / "many", {"cpu.max": "6400000 100000"})) == affinity
    assert cpu.available_cpus(write(tmp_path / "none", {"cpu.max": "max 100000"})) == affinity


def test_torch_threads_are_set_to_what_is_available() -> None:
    import torch

    before = torch.get_num_threads()
    try:
        assert cpu.configure_torch_threads(1) == 1 and torch.get_num_threads() == 1
        assert cpu.configure_torch_threads() == cpu.available_cpus() == torch.get_num_threads()
    finally:
        torch.set_num_threads(before)

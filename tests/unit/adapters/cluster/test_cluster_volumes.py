"""A pod's emptyDir volumes on the local target: a directory of its own, where the pod's paths point."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlops.adapters.cluster.follow import follow_job
from mlops.adapters.cluster.local import LocalTarget
from mlops.adapters.cluster.podenv import map_paths

NS = "ml"
WRITE = """
import os, sys
work = sys.argv[1].split("=", 1)[1]
os.makedirs(work, exist_ok=True)
open(os.path.join(work, "mine"), "w").write(os.environ["JOB_COMPLETION_INDEX"])
print("work", work, "env", os.environ["CACHE"], "tmp", os.environ["TMPDIR"], "same", os.listdir(work))
"""


def test_map_paths_rewrites_whole_paths_only() -> None:
    mounts = {"/scratch": "/local/pod/work", "/data/": "/local/pod/data"}
    assert map_paths("/scratch", mounts) == "/local/pod/work"
    assert map_paths("/scratch/repo", mounts) == "/local/pod/work/repo"
    assert map_paths("--workdir=/scratch/repo", mounts) == "--workdir=/local/pod/work/repo"
    assert map_paths("/usr/bin:/scratch/bin:/data", mounts) == "/usr/bin:/local/pod/work/bin:/local/pod/data"
    for untouched in ("/scratchpad", "/home/scratch", "x/scratch", "/tmp/scratch", "--data=/database"):
        assert map_paths(untouched, mounts) == untouched


def _job(volumes: list[dict[str, Any]], mounts: list[dict[str, str]], code: str = WRITE) -> dict[str, Any]:
    container = {"name": "trainer", "image": "unused:1", "command": ["python", "-c", code],
                 "args": ["--workdir=/scratch/repo"], "volumeMounts": mounts,
                 "env": [{"name": "CACHE", "value": "/scratch/cache"}, {"name": "TMPDIR", "value": "/tmp/x"}]}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "vol", "namespace": NS},
            "spec": {"completionMode": "Indexed", "completions": 2, "parallelism": 2, "backoffLimit": 0,
                     "template": {"spec": {"restartPolicy": "Never", "containers": [container],
                                           "volumes": volumes}}}}


@pytest.fixture
def target(tmp_path: Path) -> Iterator[LocalTarget]:
    local = LocalTarget(tmp_path)
    yield local
    local.close()


def test_each_pod_gets_its_own_empty_dirs_removed_when_it_ends(target: LocalTarget, tmp_path: Path) -> None:
    volumes = [{"name": "work", "emptyDir": {"sizeLimit": "1Gi"}}, {"name": "tmp", "emptyDir": {}}]
    target.apply([_job(volumes, [{"name": "work", "mountPath": "/scratch"}, {"name": "tmp", "mountPath": "/tmp"}])])
    lines: list[str] = []
    outcome = follow_job(target, NS, "vol", timeout_s=30, poll_s=0.05, on_line=lambda _, line: lines.append(line),
                         on_event=lambda _: None)
    assert outcome.ok, lines
    base = tmp_path / ".mlops" / "cluster" / NS / "vol"
    works = sorted(line.split()[1] for line in lines)
    assert len(set(works)) == 2  # one directory per pod
    for work, line in zip(works, sorted(lines, key=lambda x: x.split()[1]), strict=True):
        volume = Path(work).parent
        assert volume.parent.parent == base and volume.parent.name.endswith(".volumes") and volume.name == "work"
        assert line.endswith(f"env {volume}/cache tmp /tmp/x same ['mine']")  # /tmp stays this machine's
        assert not volume.exists()  # removed with its pod
    assert sorted(p.suffix for p in base.iterdir()) == [".log", ".log"]


def test_volumes_that_are_not_empty_dirs_are_left_alone(target: LocalTarget, tmp_path: Path) -> None:
    volumes = [{"name": "work", "configMap": {"name": "x"}}]
    target.apply([_job(volumes, [{"name": "work", "mountPath": "/scratch"}], "import sys; print(*sys.argv[1:])")])
    lines: list[str] = []
    outcome = follow_job(target, NS, "vol", timeout_s=30, poll_s=0.05, on_line=lambda _, line: lines.append(line),
                         on_event=lambda _: None)
    assert outcome.ok, lines
    assert lines == ["--workdir=/scratch/repo"] * 2
    assert not any(p.name.endswith(".volumes") for p in (tmp_path / ".mlops" / "cluster" / NS / "vol").iterdir())

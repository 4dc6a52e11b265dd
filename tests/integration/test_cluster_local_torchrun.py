"""The rendered training Job, run by the local target: real ``torchrun`` processes, one per completion index.

The first test runs exactly what ``render_training_job`` produces for the example repository (two nodes),
except for what each node trains: a tiny script that joins the process group over the Job's rendezvous
address (``<job>-0.<service>:29500``, which the local target resolves to this machine) and all-reduces a
tensor, so the test proves the two indexes really meet as a distributed job. The second runs the real Job
end to end: each pod copies the repository into its own ``work`` volume, trains there, pushes the artifact
to the DVC remote and hands the version record back through its log into the repository.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops.adapters.cluster.follow import follow_job
from mlops.adapters.cluster.local import LocalTarget
from mlops.render.training import render_training_job
from mlops.train.remote import train_on_cluster
from mlops.validate.validate import load_valid
from tests.conftest import run_cli
from tests.helpers.git import init_repo

ALL_REDUCE = """
import os
import torch
import torch.distributed as dist

dist.init_process_group("gloo")
value = torch.tensor([float(dist.get_rank() + 1)])
dist.all_reduce(value)
print(f"rank {dist.get_rank()} of {dist.get_world_size()} (node {os.environ['GROUP_RANK']}, index "
      f"{os.environ['JOB_COMPLETION_INDEX']}) sum {value.item():.0f} via {os.environ['MASTER_ADDR']}", flush=True)
dist.destroy_process_group()
"""


@pytest.fixture
def target(example_repo: Path) -> Iterator[LocalTarget]:
    local = LocalTarget(example_repo)
    yield local
    local.close()


def _with_script(manifests: list[dict[str, Any]], script: Path) -> list[dict[str, Any]]:
    job = next(m for m in manifests if m["kind"] == "Job")
    container = job["spec"]["template"]["spec"]["containers"][0]
    args = container["args"]
    container["args"] = [*args[: args.index("-m")], str(script)]  # torchrun's options stay as rendered
    return manifests


@pytest.mark.slow
def test_two_nodes_meet_over_the_jobs_rendezvous(target: LocalTarget, example_repo: Path, tmp_path: Path) -> None:
    script = tmp_path / "all_reduce.py"
    script.write_text(ALL_REDUCE)
    manifests = _with_script(render_training_job(load_valid(example_repo), "digits-cnn", "t1", "unused:1",
                                                 nodes=2), script)
    job = manifests[-1]
    assert job["spec"]["template"]["spec"]["containers"][0]["command"][:3] == ["python", "-m", "mlops.train.pod"]
    name, ns = job["metadata"]["name"], job["metadata"]["namespace"]
    target.apply(manifests)
    lines: list[str] = []
    outcome = follow_job(target, ns, name, timeout_s=240, poll_s=0.2,
                         on_line=lambda pod, line: lines.append(f"[{pod}] {line}"), on_event=lambda _: None)
    assert outcome.ok, "\n".join(lines)
    for index in (0, 1):
        assert f"[index {index}] rank {index} of 2 (node {index}, index {index}) sum 3 via 127.0.0.1" in lines


@pytest.mark.slow
def test_train_on_the_local_target(example_repo: Path, tmp_path: Path) -> None:
    """The real rendered Job (copy, torchrun → `mlops train MODEL --backend local`, hand-back) records a version."""
    remote = tmp_path / "dvc-remote"  # shared by this machine and the pods, like a bucket
    shutil.copytree(example_repo / ".dvc" / "cache", remote)  # the data is in the remote, as `dvc push` leaves it
    (example_repo / ".dvc" / "config").write_text(f"[core]\n    remote = shared\n    autostage = false\n"
                                                   f"['remote \"shared\"']\n    url = {remote}\n")
    (example_repo / ".gitignore").write_text("/data/\n/.mlops/\n__pycache__/\n")
    commit = init_repo(example_repo)
    out = io.StringIO()
    code = train_on_cluster(example_repo, "cancer-mlp", target="local", poll_s=0.2, out=out,
                            train_args=["--epochs", "2", "--device", "cpu"])
    assert code == 0, out.getvalue()
    lines = out.getvalue().splitlines()
    name = f"train-cancer-mlp-{commit[:8]}"  # the run label is the commit
    assert any(line.startswith("[index 0] mlops: copied the repository ") for line in lines)
    assert not any("::mlops-record" in line for line in lines)  # the hand-back block is collected, not shown
    versions = example_repo / "models" / "cancer-mlp" / "versions"
    (record,) = versions.glob("*.yaml")
    rel = f"models/cancer-mlp/versions/{record.name}"
    assert lines[-5].startswith(f"job/{name} succeeded in ")
    assert lines[-4] == f"cancer-mlp@{record.stem} recorded: {rel}"
    assert lines[-3].startswith("  digest  sha256:") and lines[-1].startswith("  metrics ")
    data = yaml.safe_load(record.read_text())
    assert data["code"]["commit"] == commit and data["code"]["dirty"] is False  # the pod's copy of this commit
    assert data["artifact"]["uri"] == f"dvc://{rel[:-5]}"
    pointer = yaml.safe_load((versions / f"{record.stem}.dvc").read_text())
    assert pointer["outs"][0]["path"] == record.stem
    assert f"/{record.stem}" in (versions / ".gitignore").read_text().splitlines()
    assert sorted(p.name for p in (versions / record.stem).iterdir()) == sorted(data["artifact"]["files"])
    assert list((example_repo / ".mlops" / "cluster").rglob("*.volumes/*")) == []  # the pods' work volumes are gone
    result = run_cli("validate", cwd=example_repo)
    assert result.code == 0, result.out + result.err

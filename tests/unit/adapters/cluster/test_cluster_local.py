"""The local target really runs a Job's pods as processes, with the Job controller's rules."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlops.adapters.cluster.base import ClusterError
from mlops.adapters.cluster.follow import Outcome, describe_failure, follow_job
from mlops.adapters.cluster.local import LocalTarget

NS = "ml"
INDEX = "metadata.annotations['batch.kubernetes.io/job-completion-index']"


def job(code: str, *, name: str = "train-x", completions: int = 2, args: list[str] | None = None,
        **spec: Any) -> dict[str, Any]:
    container = {"name": "trainer", "image": "unused:1", "command": ["python", "-c", code], "args": args or [],
                 "env": [{"name": "NODE_RANK", "valueFrom": {"fieldRef": {"fieldPath": INDEX}}},
                         {"name": "MASTER_PORT", "value": "29500"}, {"name": "HOME", "value": "/nonexistent"}]}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "namespace": NS},
            "spec": {"completionMode": "Indexed", "completions": completions, "parallelism": completions,
                     "backoffLimit": 0, **spec,
                     "template": {"spec": {"restartPolicy": "Never", "subdomain": name, "containers": [container]}}}}


def service(name: str = "train-x") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": NS},
            "spec": {"clusterIP": "None", "ports": [{"name": "rendezvous", "port": 29500}]}}


@pytest.fixture
def target(tmp_path: Path) -> Iterator[LocalTarget]:
    local = LocalTarget(tmp_path)
    yield local
    local.close()


def follow(target: LocalTarget, name: str = "train-x", timeout_s: float = 30) -> tuple[Outcome, list[str], list[str]]:
    lines: list[str] = []
    events: list[str] = []
    outcome = follow_job(target, NS, name, timeout_s=timeout_s, poll_s=0.05,
                         on_line=lambda pod, line: lines.append(f"[{pod}] {line}"), on_event=events.append)
    return outcome, lines, events


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state == "Z"


def test_each_index_runs_with_the_pod_environment(target: LocalTarget, tmp_path: Path) -> None:
    code = ("import os, sys; e = os.environ; print('rank', e['JOB_COMPLETION_INDEX'], e['NODE_RANK'], "
            "e['MASTER_ADDR'], e['MASTER_PORT'], e['HOSTNAME'], os.getcwd(), e['HOME'] != '/nonexistent', "
            "*sys.argv[1:])")
    applied = target.apply([job(code, args=["--master-addr=train-x-0.train-x", "--master-port=29500",
                                            "--node-rank=$(NODE_RANK)"]), service()])
    assert [str(a) for a in applied] == ["service/train-x created", "job.batch/train-x created"]
    outcome, lines, events = follow(target)
    assert outcome.ok, (lines, events)
    assert (outcome.status.succeeded, outcome.status.completions) == (2, 2)
    port = target._jobs[(NS, "train-x")].ports[29500]
    assert port != 29500
    for index in (0, 1):
        assert f"[index {index}] rank {index} {index} 127.0.0.1 {port} train-x-{index} {tmp_path} True " \
               f"--master-addr=127.0.0.1 --master-port={port} --node-rank={index}" in lines
    assert events[-1] == "job/train-x succeeded: 2/2 completed"
    logs = sorted(p.name for p in (tmp_path / ".mlops" / "cluster" / NS / "train-x").iterdir())
    assert len(logs) == 2 and all(name.startswith("train-x-") and name.endswith(".log") for name in logs)


def test_a_failing_index_is_retried_until_the_backoff_limit_and_stops_the_others(target: LocalTarget) -> None:
    code = ("import os, sys, time; i = int(os.environ['JOB_COMPLETION_INDEX']); print('index', i, flush=True); "
            "time.sleep(60) if i == 0 else sys.exit(3)")
    target.apply([job(code, backoffLimit=1)])
    start = time.monotonic()
    outcome, lines, _ = follow(target)
    assert time.monotonic() - start < 20  # index 0 (sleeping a minute) was stopped with the Job
    assert (outcome.status.phase, outcome.status.reason, outcome.status.failed) == ("failed", "BackoffLimitExceeded", 2)
    assert lines.count("[index 1] index 1") == 2
    assert describe_failure(outcome) == ("BackoffLimitExceeded: Job has reached the specified backoff limit — "
                                         "index 0 exit code -15 (Signal 15); index 1 exit code 3 (Error)")
    assert all(p.exit_code is not None for p in target._jobs[(NS, "train-x")].pods)


def test_a_retry_that_succeeds_completes_the_job(target: LocalTarget, tmp_path: Path) -> None:
    code = ("import pathlib, sys; m = pathlib.Path('attempted'); first = not m.exists(); m.touch(); "
            "print('first' if first else 'retry'); sys.exit(1 if first else 0)")
    target.apply([job(code, completions=1, backoffLimit=2)])
    outcome, lines, _ = follow(target)
    assert outcome.ok
    assert (outcome.status.failed, lines) == (1, ["[index 0] first", "[index 0] retry"])


def test_parallelism_limits_how_many_indexes_run_at_once(target: LocalTarget, tmp_path: Path) -> None:
    code = ("import os, time; i = os.environ['JOB_COMPLETION_INDEX']; f = open('order', 'a'); "
            "f.write(f'start {i}\\n'); f.flush(); time.sleep(0.2); f.write(f'end {i}\\n')")
    target.apply([job(code, completions=3, parallelism=1)])
    outcome, _, _ = follow(target)
    assert outcome.ok
    assert (tmp_path / "order").read_text().split("\n")[:-1] == [
        "start 0", "end 0", "start 1", "end 1", "start 2", "end 2"]


def test_active_deadline_fails_the_job_and_kills_its_processes(target: LocalTarget) -> None:
    target.apply([job("import time; print('working', flush=True); time.sleep(60)", activeDeadlineSeconds=1)])
    outcome, lines, _ = follow(target)
    assert (outcome.status.phase, outcome.status.reason) == ("failed", "DeadlineExceeded")
    assert "[index 0] working" in lines
    assert all(_gone(p.proc.pid) for p in target._jobs[(NS, "train-x")].pods)


def test_reapply_keeps_the_same_job_and_replaces_a_changed_one(target: LocalTarget) -> None:
    sleeper = job("import time; time.sleep(60)", completions=1)
    assert str(target.apply([sleeper])[0]) == "job.batch/train-x created"
    first = target._jobs[(NS, "train-x")]
    assert str(target.apply([sleeper])[0]) == "job.batch/train-x unchanged"
    assert target._jobs[(NS, "train-x")] is first
    while not first.pods:
        time.sleep(0.02)
    old_pid = first.pods[0].proc.pid
    changed = job("print('v2')", completions=1)
    assert str(target.apply([changed])[0]) == "job.batch/train-x replaced"
    assert _gone(old_pid)
    outcome, lines, _ = follow(target)
    assert outcome.ok and lines == ["[index 0] v2"]


def test_delete_kills_the_whole_process_group(target: LocalTarget, tmp_path: Path) -> None:
    code = ("import subprocess, sys, time; c = subprocess.Popen([sys.executable, '-c', 'import time; "
            "time.sleep(60)']); open('child.pid', 'w').write(str(c.pid)); time.sleep(60)")
    manifest = job(code, completions=1)
    target.apply([manifest])
    pid_file = tmp_path / "child.pid"
    deadline = time.monotonic() + 20
    while not (pid_file.is_file() and pid_file.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    child = int(pid_file.read_text())
    assert not _gone(child)
    assert target.delete([manifest]) == ["job.batch/train-x deleted"]
    deadline = time.monotonic() + 10  # SIGKILL reaches the group at once; the kernel may take a moment to reap
    while not _gone(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(child)
    assert target.delete([manifest]) == ["job.batch/train-x not found"]
    with pytest.raises(ClusterError, match="404 NotFound"):
        target.job_status(NS, "train-x")


def test_a_pod_that_cannot_start_fails_the_job_with_the_reason(target: LocalTarget) -> None:
    broken = job("")
    broken["spec"]["template"]["spec"]["containers"][0]["command"] = []
    target.apply([broken])
    outcome, _, _ = follow(target)
    assert (outcome.status.phase, outcome.status.reason) == ("failed", "PodStartFailed")
    assert "sets no command" in outcome.status.message


def test_logs_without_follow_and_unknown_objects(target: LocalTarget) -> None:
    target.apply([job("print('a'); print('b', end='')", completions=1)])
    assert follow(target)[0].ok
    pod = target.job_pods(NS, "train-x")[0]
    assert list(target.pod_log(NS, pod.name, follow=False)) == ["a", "b"]
    with pytest.raises(ClusterError, match="pods 'nope' not found"):
        list(target.pod_log(NS, "nope", follow=False))
    with pytest.raises(ClusterError, match="runs batch/v1 Jobs"):
        target.apply([{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}}])
    assert os.environ.get("JOB_COMPLETION_INDEX") is None  # nothing leaks into this process

"""Follow a Job until it succeeds, fails or runs out of time: status by polling, logs by streaming.

The same loop serves every ClusterTarget. Each pod's log is read by its own thread (a pod log is a
long-lived HTTP stream on Kubernetes, a growing file locally); lines are passed to ``on_line`` from
the calling thread only, so callers never see concurrent writes.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from mlops.adapters.cluster.base import ClusterTarget, JobStatus, PodInfo

LineSink = Callable[[str, str], None]  # (pod label, line)
EventSink = Callable[[str], None]  # one human-readable line: status changes, waiting pods
DRAIN_S = 10.0  # after the Job ends, how long to wait for the last log lines
MAX_RESUMES = 1000  # per pod: streams cut by a proxy are resumed, a stream that keeps ending is given up


@dataclass
class Outcome:
    """How following ended: the last status seen, whether time ran out, and the pods that failed."""

    status: JobStatus
    timed_out: bool
    elapsed_s: float
    failed_pods: list[PodInfo] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.timed_out and self.status.phase == "succeeded"


@dataclass
class _Streams:
    lines: queue.Queue[tuple[str, str] | None] = field(default_factory=queue.Queue)
    threads: dict[str, threading.Thread] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    resumed: dict[str, int] = field(default_factory=dict)

    def start(self, target: ClusterTarget, namespace: str, pod: PodInfo, *, new_only: bool = False) -> None:
        def pump() -> None:
            try:
                for line in target.pod_log(namespace, pod.name, follow=True, new_only=new_only):
                    self.lines.put((pod.label, line))
            except Exception as exc:  # a broken stream must never kill the follower; it is reported
                self.errors.append(f"log stream of {pod.name} ended early: {type(exc).__name__}: {str(exc)[:200]}")
            finally:
                self.lines.put(None)

        thread = threading.Thread(target=pump, name=f"log-{pod.name}", daemon=True)
        self.threads[pod.name] = thread
        thread.start()

    def drain(self, on_line: LineSink, wait_s: float) -> None:
        deadline = time.monotonic() + wait_s
        while True:
            remaining = deadline - time.monotonic()
            try:
                item = self.lines.get(timeout=max(remaining, 0.0)) if remaining > 0 else self.lines.get_nowait()
            except queue.Empty:
                return
            if item is not None:
                on_line(*item)

    def alive(self) -> bool:
        return any(t.is_alive() for t in self.threads.values())

    def resume_cut(self, target: ClusterTarget, namespace: str, pod: PodInfo) -> None:
        """A stream that ended while its pod still runs was cut (an idle proxy, say): resume with new lines."""
        thread = self.threads.get(pod.name)
        if thread is None or thread.is_alive() or pod.phase != "Running":
            return
        if self.resumed.get(pod.name, 0) >= MAX_RESUMES:
            return
        self.resumed[pod.name] = self.resumed.get(pod.name, 0) + 1
        self.start(target, namespace, pod, new_only=True)


def follow_job(target: ClusterTarget, namespace: str, name: str, *, timeout_s: float, on_line: LineSink,
               on_event: EventSink, poll_s: float = 1.0, clock: Callable[[], float] = time.monotonic) -> Outcome:
    """Stream the logs of ``name``'s pods and report status changes until the Job ends or ``timeout_s`` passes."""
    start = clock()
    streams = _Streams()
    seen_reasons: dict[str, str] = {}
    last: JobStatus | None = None
    while True:
        status = target.job_status(namespace, name)
        if status != last and not status.finished:  # the final status is told after the last log lines
            on_event(f"job/{name} {status.phase}: {status.summary()}")
            last = status
        pods = target.job_pods(namespace, name)
        for pod in pods:
            if pod.reason and seen_reasons.get(pod.name) != pod.reason and not pod.started:
                on_event(f"pod/{pod.name} ({pod.label}) waiting: {pod.reason}")
            seen_reasons[pod.name] = pod.reason
            if pod.started and pod.name not in streams.threads:
                streams.start(target, namespace, pod)
            else:
                streams.resume_cut(target, namespace, pod)
        if status.finished:
            _finish(streams, on_line)
            on_event(f"job/{name} {status.phase}: {status.summary()}")
            break
        if clock() - start >= timeout_s:
            streams.drain(on_line, 0)
            break
        streams.drain(on_line, poll_s)
    for error in streams.errors:
        on_event(error)
    failed = [p for p in target.job_pods(namespace, name) if p.phase == "Failed"] if status.phase != "succeeded" else []
    return Outcome(status=status, timed_out=not status.finished, elapsed_s=clock() - start, failed_pods=failed)


def _finish(streams: _Streams, on_line: LineSink) -> None:
    deadline = time.monotonic() + DRAIN_S
    while streams.alive() and time.monotonic() < deadline:
        streams.drain(on_line, 0.1)
    streams.drain(on_line, 0)


def describe_failure(outcome: Outcome) -> str:
    """Why the Job failed, in one line: the Job condition's reason and message, then each failed pod."""
    status = outcome.status
    parts = [": ".join(p for p in (status.reason, status.message) if p) or "failed"]
    pods = []
    for pod in outcome.failed_pods:
        detail = f"exit code {pod.exit_code}" if pod.exit_code is not None else "no exit code"
        pods.append(f"{pod.label} {detail}" + (f" ({pod.reason})" if pod.reason else ""))
    if pods:
        parts.append("; ".join(dict.fromkeys(pods)))
    return " — ".join(parts)


"""``mlops train MODEL --backend kubernetes``: submit the model's training Job to a cluster and follow it.

The Job is the one ``mlops render`` checks (``render_training_job``: an Indexed Job running ``torchrun`` and
its headless Service). It is named after the model and a run label (the commit, by default), so running the
command again for the same commit finds the Job already running and follows it instead of starting another;
a changed or failed Job of that name is replaced. The pods' log lines are printed as they come, prefixed by
their completion index, then one line says how it ended; the exit code is 0 only when the Job succeeded.
When the Job outlives its ``activeDeadlineSeconds`` (the spec's ``training.timeout_minutes``) plus a grace
period, it is deleted (with its pods) and the command fails.

Results come back through the log: the pod pushes the artifact to the DVC remote (credentials from the
optional Secret ``secret`` / ``$MLOPS_TRAINING_SECRET``, as environment variables) and prints the version
record and its DVC pointer as a hand-back block (``mlops.train.handback``), which is not echoed. When the
Job has succeeded, index 0's block is checked, the artifact is pulled and verified against the record
(``fetch``), and both files are written here, never over a different record; then the lines ``mlops train``
prints locally. A Job that succeeded without a block fails the command. Following a finished Job again
(the same command) collects its record again, from the log the cluster keeps for a day.

Targets: ``kubernetes`` (the kubeconfig's cluster, like kubectl) or ``local`` (the same Job's pods as
processes in this repository; the pods belong to this command, so it always follows them).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from mlops.adapters.cluster import (
    ClusterTarget,
    Outcome,
    describe_failure,
    find_job,
    follow_job,
    open_target,
)
from mlops.core.errors import UsageError
from mlops.core.repo import Repository
from mlops.render.training import render_training_job
from mlops.train.facts import UNKNOWN_COMMIT, git_state
from mlops.train.handback import BEGIN, Collector, accept
from mlops.train.record import summary_lines
from mlops.validate.validate import load_valid

GRACE_S = 120.0  # beyond the Job's own deadline, time for the cluster to report it
IMAGE_ENV = "MLOPS_TRAINING_IMAGE"
SECRET_ENV = "MLOPS_TRAINING_SECRET"
LOCAL_IMAGE = "mlops-local:training"  # the local target runs no image; the manifest still needs one
RECORDING_POD = "index 0"  # the pod whose torchrun rank 0 exports and records


def run_label(root: Path) -> str:
    """The run label of the Job's name: the first 8 hex digits of HEAD, or a UTC timestamp outside git."""
    commit, _ = git_state(root)
    return commit[:8] if commit != UNKNOWN_COMMIT else time.strftime("%Y%m%d-%H%M%S", time.gmtime())


def _say(out: TextIO, line: str) -> None:
    print(line, file=out, flush=True)


def _annotate_failure(message: str) -> None:
    if os.environ.get("GITHUB_ACTIONS") == "true":
        text = message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        print(f"::error title=training job failed::{text}", flush=True)


def _timeout(job: dict[str, Any], timeout_s: float | None) -> float:
    if timeout_s is not None:
        return timeout_s
    deadline = (job.get("spec") or {}).get("activeDeadlineSeconds")
    return float(deadline) + GRACE_S if deadline else 3600.0 + GRACE_S


def train_on_cluster(root: Path, model: str, *, target: str = "kubernetes", image: str | None = None,
                     namespace: str | None = None, follow: bool = True, env: str | None = None,
                     context: str | None = None, label: str | None = None, timeout_s: float | None = None,
                     train_args: Sequence[str] = (), poll_s: float = 1.0, cluster: ClusterTarget | None = None,
                     secret: str | None = None, fetch: bool = True, out: TextIO | None = None,
                     repo: Repository | None = None) -> int:
    """Render, submit and (with ``follow``) follow ``model``'s training Job; 0 when it succeeded and its
    version record was written here, else 1.

    ``image`` (else ``$MLOPS_TRAINING_IMAGE``) is the training image and is required on ``kubernetes``;
    ``namespace`` overrides the environment's; ``env`` picks that environment (default: the first that
    targets Kubernetes); ``context`` is the kubeconfig context; ``train_args`` are added to each pod's
    ``mlops train`` command line (e.g. ``["--epochs", "2"]``); ``poll_s`` is how often the status is read;
    ``cluster`` replaces the target (tests); ``secret`` (else ``$MLOPS_TRAINING_SECRET``) names the Secret
    the pods get as environment variables; ``fetch`` pulls the handed-back artifact and verifies it;
    ``repo`` is the repository as the command already loaded and validated it.
    """
    stream = out or sys.stdout
    if "--no-push" in train_args:
        raise UsageError("--no-push cannot be used with --backend kubernetes: the artifact would be lost with the "
                         "pod; the pod pushes it to the DVC remote")
    secret = secret or os.environ.get(SECRET_ENV) or None
    image = image or os.environ.get(IMAGE_ENV)
    if image is None:
        if target != "local":
            raise UsageError(f"--image is required with --target {target} (or set {IMAGE_ENV}): the training "
                             "image that holds this repository's code")
        image = LOCAL_IMAGE
    repo = repo if repo is not None else load_valid(root)
    manifests = render_training_job(repo, model, label or run_label(root), image, env=env, secret=secret)
    for manifest in manifests:
        if namespace:
            manifest["metadata"]["namespace"] = namespace
    job = dict(find_job(manifests))
    if train_args:
        container = job["spec"]["template"]["spec"]["containers"][0]
        container["args"] = [*container.get("args", []), *train_args]
    cluster = cluster or open_target(target, workdir=root, context=context)
    try:
        name = str(job["metadata"]["name"])
        ns = str(job["metadata"].get("namespace") or cluster.default_namespace)
        for applied in cluster.apply(manifests):
            _say(stream, str(applied))
        if not follow and target != "local":
            _say(stream, f"job/{name} submitted to namespace {ns}; follow it with: kubectl -n {ns} logs -f "
                         f"--all-containers --prefix -l batch.kubernetes.io/job-name={name}; run this command "
                         "again to follow it and collect its version record")
            return 0
        collector = Collector()

        def on_line(pod: str, line: str) -> None:
            if collector.feed(pod, line):
                _say(stream, f"[{pod}] {line}")

        try:
            outcome = follow_job(cluster, ns, name, timeout_s=_timeout(job, timeout_s), poll_s=poll_s,
                                 on_line=on_line, on_event=lambda event: _say(stream, f"mlops: {event}"))
        except KeyboardInterrupt:
            if target != "local":
                _say(stream, f"mlops: stopped following; job/{name} keeps running in namespace {ns}")
            raise
        if _conclude(cluster, job, ns, name, outcome, stream) != 0:
            return 1
        order = [str(m) for m in repo.model(model).evaluation.metrics]
        return _hand_back(root, model, cluster, ns, name, collector, fetch, order, stream)
    finally:
        cluster.close()


def _reread(cluster: ClusterTarget, ns: str, name: str, collector: Collector) -> dict[str, str] | None:
    """The block from the whole log of index 0's succeeded pod (the followed stream may have lost its end)."""
    pods = [p for p in cluster.job_pods(ns, name) if p.label == RECORDING_POD and p.phase == "Succeeded"]
    for pod in reversed(pods):
        for line in cluster.pod_log(ns, pod.name, follow=False):
            collector.feed(RECORDING_POD, line)
        found = collector.last(RECORDING_POD)
        if found is not None:
            return found
    return None


def _hand_back(root: Path, model: str, cluster: ClusterTarget, ns: str, name: str, collector: Collector,
               fetch: bool, order: list[str], stream: TextIO) -> int:
    """Write the version record the Job's log carries; 1 when there is none."""
    files = collector.last(RECORDING_POD) or _reread(cluster, ns, name, collector)
    if files is None:
        why = f" ({'; '.join(dict.fromkeys(collector.errors))})" if collector.errors else ""
        message = (f"job/{name} succeeded but printed no version record{why}; expected a {BEGIN} block in the log "
                   f"of {RECORDING_POD} (does the training image run `python -m mlops.train.pod` of this mlops, "
                   "and did training record a new version?)")
        _say(stream, message)
        _annotate_failure(message)
        return 1
    accepted = accept(root, model, files, fetch=fetch)
    for line in summary_lines(accepted.record, accepted.path, created=accepted.created, order=order):
        _say(stream, line)
    return 0


def _conclude(cluster: ClusterTarget, job: dict[str, Any], ns: str, name: str, outcome: Outcome,
              stream: TextIO) -> int:
    """Print the one-line outcome; delete a Job that ran out of time."""
    took = f"{outcome.elapsed_s:.1f}s"
    if outcome.ok:
        _say(stream, f"job/{name} succeeded in {took} ({outcome.status.summary()})")
        return 0
    if outcome.timed_out:
        deleted = cluster.delete([job])
        what = "deleted it and its pods" if any("deleted" in d for d in deleted) else "it was already gone"
        message = f"job/{name} timed out after {took} ({outcome.status.phase}: {outcome.status.summary()}); {what}"
    else:
        message = f"job/{name} failed after {took}: {describe_failure(outcome)}"
    _say(stream, message)
    _annotate_failure(message)
    return 1

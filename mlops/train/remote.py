"""``mlops train MODEL --backend kubernetes``: submit the model's training Job to a cluster and follow it.

The Job is the one ``mlops render`` checks (``render_training_job``: an Indexed Job running ``torchrun`` and
its headless Service). It is named after the model and a run label (the commit, by default), so running the
command again for the same commit finds the Job already running and follows it instead of starting another;
a changed or failed Job of that name is replaced. The pods' log lines are printed as they come, prefixed by
their completion index, then one line says how it ended; the exit code is 0 only when the Job succeeded.
When the Job outlives its ``activeDeadlineSeconds`` (the spec's ``training.timeout_minutes``) plus a grace
period, it is deleted (with its pods) and the command fails.

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
from mlops.render.training import render_training_job
from mlops.train.facts import UNKNOWN_COMMIT, git_state
from mlops.validate.validate import load_valid

GRACE_S = 120.0  # beyond the Job's own deadline, time for the cluster to report it
IMAGE_ENV = "MLOPS_TRAINING_IMAGE"
LOCAL_IMAGE = "mlops-local:training"  # the local target runs no image; the manifest still needs one


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
                     out: TextIO | None = None) -> int:
    """Render, submit and (with ``follow``) follow ``model``'s training Job; 0 when it succeeded, else 1.

    ``image`` (else ``$MLOPS_TRAINING_IMAGE``) is the training image and is required on ``kubernetes``;
    ``namespace`` overrides the environment's; ``env`` picks that environment (default: the first that
    targets Kubernetes); ``context`` is the kubeconfig context; ``train_args`` are added to each pod's
    ``mlops train`` command line (e.g. ``["--epochs", "2"]``); ``poll_s`` is how often the status is read;
    ``cluster`` replaces the target (tests).
    """
    stream = out or sys.stdout
    image = image or os.environ.get(IMAGE_ENV)
    if image is None:
        if target != "local":
            raise UsageError(f"--image is required with --target {target} (or set {IMAGE_ENV}): the training "
                             "image that holds this repository's code")
        image = LOCAL_IMAGE
    repo = load_valid(root)
    manifests = render_training_job(repo, model, label or run_label(root), image, env=env)
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
                         f"--all-containers --prefix -l batch.kubernetes.io/job-name={name}")
            return 0
        try:
            outcome = follow_job(cluster, ns, name, timeout_s=_timeout(job, timeout_s), poll_s=poll_s,
                                 on_line=lambda pod, line: _say(stream, f"[{pod}] {line}"),
                                 on_event=lambda event: _say(stream, f"mlops: {event}"))
        except KeyboardInterrupt:
            if target != "local":
                _say(stream, f"mlops: stopped following; job/{name} keeps running in namespace {ns}")
            raise
        return _conclude(cluster, job, ns, name, outcome, stream)
    finally:
        cluster.close()


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

"""``mlops train MODEL``: fit, export, measure, store and record one version.

The run lives in ``.mlops/runs/<model>/<run-key>/`` (the key hashes the spec, data version, code
and placement), so rerunning the same inputs after a crash resumes from its last checkpoint.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

from mlops.adapters.artifacts import ArtifactStore, default_store
from mlops.adapters.artifacts.loader import load_unverified_for_training
from mlops.adapters.artifacts.signature import Signature
from mlops.core import metrics as metric_fns
from mlops.core.confidence import Rows
from mlops.core.errors import Problem, UserError
from mlops.core.lineage import hash_artifact, version_id
from mlops.core.provenance import data_spec
from mlops.core.repo import Repository
from mlops.core.spec.model import ModelSpec
from mlops.core.spec.record import VersionRecord
from mlops.train import checkpoint, facts
from mlops.train.context import Context, prepare, software, with_epochs
from mlops.train.export import DataFacts, InferenceModule, write_program, write_reports
from mlops.train.job import FitJob, run_fit
from mlops.train.loop import Diverged
from mlops.train.progress import Reporter
from mlops.train.record import finalize, write_once
from mlops.train.usercode import build
from mlops.train.worker import fit_in_group, group_env


@dataclass(frozen=True)
class TrainOptions:
    epochs: int | None = None
    device: str | None = None  # auto | cpu | cuda; None: the spec's
    push: bool = True
    threads: int | None = None
    processes: int | None = None  # DDP world size override (e.g. 2 gloo processes on CPU)
    store: ArtifactStore | None = None  # default: DVC
    bar: bool | None = None  # None: a bar in a terminal, plain lines otherwise
    quiet: bool = False


@dataclass(frozen=True)
class Built:
    """An artifact directory and what training learned about it."""

    directory: Path
    digest: str
    files: dict[str, str]
    metrics: dict[str, float]
    history: dict[str, list[float]]
    deterministic: bool
    resumed: bool
    seconds: float
    slices: dict[str, Any] = field(default_factory=dict)  # the record's ``slices``: per slice of the test split


@dataclass(frozen=True)
class TrainResult:
    model: str
    version: str
    digest: str
    metrics: dict[str, float]
    record_path: str
    uri: str
    created: bool  # False: an identical artifact was already recorded under this version
    resumed: bool
    duration_s: float
    record: VersionRecord | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "version": self.version, "digest": self.digest, "metrics": self.metrics,
                "record": self.record_path, "uri": self.uri, "created": self.created, "resumed": self.resumed,
                "duration_s": round(self.duration_s, 3)}


class NotRankZero(Exception):
    """This process is a non-zero rank of a torchrun group: rank 0 exports and records."""


def _launch(ctx: Context, job: FitJob) -> None:
    """Fit in this process, as one rank of the torchrun group it runs in, or under a new ``torchrun``."""
    if group_env() is not None:
        if fit_in_group(job, ctx.table, ctx.reporter) != 0:
            raise NotRankZero
        return
    if job.world_size == 1:
        run_fit(job, ctx.table, ctx.reporter)
        return
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes=1",
           f"--nproc-per-node={job.world_size}", "-m", "mlops.train.worker", str(job.write())]
    ctx.reporter.log(f"launching {job.world_size} processes: torchrun --nproc-per-node {job.world_size}")
    # PYTHONSAFEPATH: the workers start in the checkout, whose files must not shadow installed packages
    env = {**os.environ, "OMP_NUM_THREADS": str(job.threads or 1), "PYTHONSAFEPATH": "1"}
    proc = subprocess.run(cmd, cwd=ctx.root, env=env, check=False)
    if proc.returncode != 0:
        raise UserError(Problem(ctx.doc.path, 1, 1, f"distributed training failed (torchrun exit {proc.returncode}); "
                                                    "see the worker output above"))


def build_artifact(ctx: Context, run_dir: Path, out: Path) -> Built:
    """Fit (resuming from ``run_dir``), then export the program and write the artifact into ``out``."""
    started = time.perf_counter()
    spec, table, place = ctx.spec, ctx.table, ctx.placement
    run_dir.mkdir(parents=True, exist_ok=True)
    resumed = (run_dir / checkpoint.CHECKPOINT).is_file()
    job = FitJob(str(ctx.root), ctx.model, str(ctx.model_py), spec.model_dump_json(), str(ctx.data_file),
                 str(run_dir), place.device, place.precision, place.threads, place.world_size,
                 bar=ctx.reporter.bar_enabled, quiet=ctx.reporter.quiet)
    ctx.reporter.log(f"training {spec.training.epochs} epochs on {place.describe()} (run {run_dir.name})")
    try:
        _launch(ctx, job)
    except Diverged as exc:
        shutil.rmtree(run_dir, ignore_errors=True)
        raise UserError(ctx.doc.problem(("training", "optimizer", "lr"),
                                        f"training diverged: {exc}; expected a finite loss (try a lower learning "
                                        "rate or standardised features)")) from None
    final = checkpoint.load(run_dir / checkpoint.FINAL)
    if final is None:
        raise UserError(Problem(ctx.doc.path, 1, 1, "training ended without writing its final weights"))
    torch.manual_seed(spec.training.seed)
    net = build(ctx.model, ctx.model_py, dict(spec.params), len(table.features), table.n_outputs,
                f"models/{ctx.model}/{spec.code}")
    net.load_state_dict(final["model"])
    mean = final["mean"].numpy() if final["mean"] is not None else None
    std = final["std"].numpy() if final["std"] is not None else None
    signature = Signature.build(ctx.model, spec.task, spec.serving.input.name, table.features, table.classes)
    if out.exists():
        shutil.rmtree(out)
    write_program(out, InferenceModule(net, mean, std), signature)
    x_test, y_test = table.part("test")
    outputs = load_unverified_for_training(out).predict(x_test)
    metrics = metric_fns.compute(spec.evaluation.metrics, y_test, outputs)
    sliced = slice_metrics(spec, table.features, x_test, y_test, outputs)
    write_reports(out, spec, signature, metrics, DataFacts(spec.data.path, ctx.data_md5, table.rows), sliced)
    digest, files = hash_artifact(out)
    history = checkpoint.Progress.from_state(final["progress"]).history
    return Built(out, digest, files, metrics, history, bool(final["deterministic"]), resumed,
                 time.perf_counter() - started, sliced)


def slice_metrics(spec: ModelSpec, features: list[str], x: Any, y: Any, outputs: Any) -> dict[str, Any]:
    """Every metric of ``evaluation.metrics`` on each slice of the test split, with its 95 % interval (the
    overall metrics' bootstrap settings); empty when the spec names no slices."""
    if not spec.evaluation.slices:
        return {}
    from mlops.core import slices

    where = slices.masks(spec.evaluation.slices, features, x)
    return slices.recorded(slices.measure(spec.evaluation.metrics, [Rows(y, outputs)], where)[0])


def record_body(ctx: Context, built: Built, version: str, uri: str, created: datetime,
                parent: str | None) -> dict[str, Any]:
    spec, table, place = ctx.spec, ctx.table, ctx.placement
    data = {"path": spec.data.path, "md5": ctx.data_md5, "rows": table.rows}
    gpu = torch.cuda.get_device_name(0) if place.device == "cuda" else None
    return {
        "model": ctx.model, "version": version, "created": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "parent": parent, "task": spec.task,
        "artifact": {"digest": built.digest, "uri": uri, "files": built.files},
        "data": data, "data_spec": data_spec(spec.data),
        "code": {"commit": ctx.code.commit, "dirty": ctx.code.dirty, "model_py_sha256": ctx.code.model_py_sha256},
        "params": spec.model_dump(mode="json")["params"], "training": spec.training.model_dump(mode="json"),
        "seed": spec.training.seed, "metrics": built.metrics,
        "evaluation_data": {"path": spec.data.path, "md5": ctx.data_md5, "rows": {"test": table.rows["test"]}},
        "history": built.history, **({"slices": built.slices} if built.slices else {}),
        "environment": {**software(), "device": place.device, "cpu": facts.cpu_model(), "gpu": gpu,
                        "runner": facts.runner_name(), "threads": place.threads, "precision": place.precision,
                        "processes": place.world_size, "deterministic": built.deterministic},
        "duration_s": round(built.seconds, 3),
    }


def train(root: Path, model: str, options: TrainOptions | None = None, *,
          repo: Repository | None = None) -> TrainResult | None:
    """Train and record ``model``; None in the non-zero ranks of a torchrun group (rank 0 records).

    ``repo`` is the repository as the command loaded and validated it (loaded here when not given).
    """
    from mlops.validate.validate import load_valid

    options = options or TrainOptions()
    root = root.resolve()
    started = time.perf_counter()
    repo = repo if repo is not None else load_valid(root, {model})
    loaded = repo.require_model(model)
    reporter = Reporter(model, bar=options.bar, quiet=options.quiet)
    spec = with_epochs(loaded.spec, options.epochs)
    group = group_env()
    ctx = prepare(root, model, spec, loaded.doc, device=options.device,
                  processes=group.world_size if group else options.processes, threads=options.threads,
                  reporter=reporter if group is None or group.rank == 0 else Reporter(model, quiet=True))
    run_dir = checkpoint.run_dir(root, model, ctx.run_key())
    try:
        built = build_artifact(ctx, run_dir, run_dir / "artifact")
    except NotRankZero:
        return None
    now = datetime.now(UTC)
    version = version_id(built.digest, now)
    rel = f"models/{model}/versions/{version}.yaml"
    existing = repo.records.get(model, {}).get(version)
    if existing is not None or (root / rel).exists():
        if existing is None or existing.spec.artifact.digest != built.digest:
            raise UserError(Problem(rel, 1, 1, "a different version record already exists under this version id"))
        shutil.rmtree(run_dir, ignore_errors=True)
        reporter.log(f"{model}@{version} is already recorded with this exact artifact; nothing new to record")
        return TrainResult(model, version, built.digest, built.metrics, rel, existing.spec.artifact.uri, False,
                           built.resumed, time.perf_counter() - started, existing.spec)
    store = options.store or default_store(root, push=options.push)
    newest = repo.newest_record(model)
    parent = newest.version if newest is not None else None
    uri = store.put(model, version, built.directory)
    built = Built(**{**built.__dict__, "seconds": time.perf_counter() - started})
    record, text = finalize(record_body(ctx, built, version, uri, now, parent))
    write_once(root / rel, text, rel)
    from mlops.explain.cards import write_card

    card = write_card(repo, record)
    shutil.rmtree(run_dir, ignore_errors=True)
    reporter.log(f"recorded {rel} ({built.digest}); model card {card}")
    return TrainResult(model, version, built.digest, built.metrics, rel, uri, True, built.resumed,
                       built.seconds, record)


"""``mlops serve``: resolve what to serve (repo mode or image mode), verify it, and run the server.

- Repo mode, ``MODEL@VERSION``: the record ``models/<m>/versions/<v>.yaml``, the spec's ``serving`` section,
  and the artifact fetched through its store (DVC, or a directory store for ``file://`` URIs).
- Image mode, ``--artifact DIR --record FILE [--config FILE]``: the container contract of
  ``mlops.core.spec.runtime`` (what ``mlops build-image`` bakes and ``mlops render`` configures).

Either way the artifact's files and digest are checked against the record before anything is loaded or
any port is opened: a mismatch is one error line and exit 1.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from mlops.core import yamlpos
from mlops.core.errors import Problem, UserError
from mlops.core.lineage import verify_artifact
from mlops.core.repo import Loaded, parse_ref, record_problems
from mlops.core.spec.load import validate
from mlops.core.spec.model import TensorSpec
from mlops.core.spec.record import VersionRecord
from mlops.core.spec.runtime import RuntimeConfig, runtime_config


@dataclass(frozen=True)
class Target:
    """A verified artifact, its record, and the serving configuration to run it with."""

    artifact: Path
    record: VersionRecord
    record_where: str
    config: RuntimeConfig
    base: Path  # relative prediction-log sinks resolve against this directory


def from_repo(root: Path, ref: str, *, environment: str | None = None) -> Target:
    from mlops.adapters.artifacts import fetch_verified
    from mlops.core.repo import load_repository

    model, version = parse_ref(ref)
    repo = load_repository(root, only_models={model})
    loaded = repo.require_record((model, version))
    env = repo.require_environment(environment).spec if environment else None
    repo.require_valid()
    record, spec, where = loaded.spec, repo.model(model), loaded.doc.path
    artifact = fetch_verified(repo.root, record)
    config = RuntimeConfig.model_validate(runtime_config(
        spec, version, env.name if env else "local", record.artifact.digest, env.monitoring if env else None,
        here=True))
    return Target(artifact, record, where, config, repo.root)


def _read_config(path: Path) -> RuntimeConfig:
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise UserError.at(str(path), "file not found; expected the serving config (serving.json)") from None
    except (OSError, ValueError) as exc:
        raise UserError.at(str(path), f"cannot read the serving config: {exc}") from None
    try:
        return RuntimeConfig.model_validate(data)
    except ValidationError as exc:
        problems = [Problem(str(path), 1, 1, f"{'.'.join(map(str, e['loc'])) or 'config'}: {e['msg']}")
                    for e in exc.errors(include_url=False)]
        raise UserError(problems) from None


def from_files(artifact: Path, record_file: Path, config_file: Path | None) -> Target:
    from mlops.adapters.artifacts.signature import SIGNATURE, Signature

    where = str(record_file)
    doc = yamlpos.load(record_file, where)
    record = validate(doc, VersionRecord)
    tampered = record_problems(record.model, record.version, Loaded(doc, record))
    if tampered:
        raise UserError(tampered)
    verify_artifact(artifact, record.artifact.digest, record.artifact.files, where=where)
    if config_file is not None:
        config = _read_config(config_file)
        cwhere = str(config_file)
        if (config.model, config.version) != (record.model, record.version):
            raise UserError.at(cwhere, f"config is for {config.model}@{config.version} but the record is "
                                       f"{record.model}@{record.version}")
        if config.artifact_digest is not None and config.artifact_digest != record.artifact.digest:
            raise UserError.at(cwhere, f"artifact_digest {config.artifact_digest} does not match the record's "
                                       f"{record.artifact.digest}; refusing to serve")
    else:
        sig = Signature.read(artifact / SIGNATURE)
        spec = TensorSpec.model_validate({"name": sig.input.name, "datatype": sig.input.datatype,
                                          "shape": list(sig.input.shape[1:])})
        config = RuntimeConfig(model=record.model, version=record.version, input=spec,
                               artifact_digest=record.artifact.digest)
    return Target(artifact, record, where, config, Path.cwd())


@dataclass(frozen=True)
class Options:
    host: str = "127.0.0.1"
    port: int = 8080
    threads: int | None = None
    drain_grace_s: float = 0.0
    rotate_bytes: int = 16 << 20
    rotate_s: float = 600.0


def serve(target: Target, opts: Options) -> int:
    """Open the port, load and warm up, serve until SIGTERM; 0 once every admitted request is answered."""
    import prometheus_client

    from mlops.adapters.artifacts.loader import load_verified
    from mlops.serve.app import App
    from mlops.serve.cpu import configure_torch_threads
    from mlops.serve.metrics import Metrics, torch_gpu
    from mlops.serve.predictor import Predictor, Signature, check_input
    from mlops.serve.predlog import PredictionLog, open_sink
    from mlops.serve.server import Limits, Runtime, bind, run, say

    cfg, record = target.config, target.record
    prometheus_client.disable_created_metrics()
    threads = configure_torch_threads(opts.threads)
    log_cfg = cfg.prediction_log
    sink = None
    if log_cfg.sample_rate > 0:
        sink = open_sink(log_cfg.sink, log_cfg.format, cfg.model, cfg.version, target.base, opts.rotate_bytes,
                         opts.rotate_s)
    metrics = Metrics(cfg.model, cfg.version, record.artifact.digest, cfg.batching.max_batch_size)
    metrics.watch_gpu(torch_gpu())  # only where a GPU is visible: utilisation and memory per scrape
    predlog = PredictionLog(sink, metrics, model=cfg.model, version=cfg.version, sample_rate=log_cfg.sample_rate)
    sock = bind(opts.host, opts.port)
    b = cfg.batching
    app = App(cfg.model, cfg.version, metrics, predlog, max_lag_ms=max(25.0, 4 * b.max_latency_ms))
    limits = Limits(max_batch_size=b.max_batch_size, max_latency_ms=b.max_latency_ms, max_queue=b.max_queue,
                    drain_grace_s=opts.drain_grace_s)

    def load() -> Predictor:
        return load_verified(target.artifact, record)

    def check(sig: Signature) -> None:
        check_input(sig, cfg.input.name, cfg.input.datatype, cfg.input.shape, target.record_where)

    runtime = Runtime(load, app, metrics, predlog, limits, sock, check)
    where = log_cfg.sink if sink is not None else "off"
    say(f"listening on http://{opts.host}:{runtime.port} (not ready until warmed up); {threads} torch "
        f"thread(s); batching ≤{b.max_batch_size} rows/≤{b.max_latency_ms} ms, queue {b.max_queue}; "
        f"prediction log {log_cfg.sample_rate:g} → {where}")
    return run(runtime)

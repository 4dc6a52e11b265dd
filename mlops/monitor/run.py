"""One monitor run of one (environment, model): judge the window, remember it, decide, act.

Order matters for "the same situation yields one PR and one issue": the run is appended to the history
(compare-and-swap) *before* anything acts, and only the run that appended it acts; a run that finds its
situation already recorded reports it and stops. What acting did is written back into that history entry.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from mlops.adapters.artifacts import fetch_verified
from mlops.adapters.forge import Forge
from mlops.adapters.metrics import MetricsError, environment_scope, metrics_source
from mlops.adapters.scm import try_open_scm
from mlops.adapters.sinks import Window, join, open_data
from mlops.core.repo import Repository
from mlops.core.spec.runtime import monitored_sinks
from mlops.monitor.decide import Context, Decision, decide
from mlops.monitor.history import History, HistoryStore, Run, situation
from mlops.monitor.incidents import sync_incidents
from mlops.monitor.performance import Live, class_indices, live_performance
from mlops.monitor.quality import check_quality
from mlops.monitor.reference import Reference, load_reference
from mlops.monitor.report import Outcome

Say = Callable[[str], None]
SAMPLE = 100_000  # window rows kept (seeded) however large the window: cost does not grow with the log
REFERENCE_PREDICTIONS = 20_000  # reference rows the version predicts, for prediction drift


@dataclass(frozen=True)
class Settings:
    now: datetime
    act: bool = True  # False: judge and report only (no history, PR, rollback or issue)
    local_drift: bool = False  # the same tests without evidently
    out: Path | None = None  # where the JSON verdict and the HTML report go
    base: str = "main"


def _seed(*parts: str) -> int:
    return int.from_bytes(situation(*parts)[:8].encode(), "big") % (2**32)


def _predictions(repo: Repository, record_ref: tuple[str, str], ref: Reference, rows: int) -> list[object]:
    """The version's own predictions on (a seeded sample of) its training rows: prediction drift's reference."""
    from mlops.adapters.artifacts.loader import load_verified

    record = repo.require_record(record_ref).spec
    predictor = load_verified(fetch_verified(repo.root, record), record)
    x = ref.features.to_numpy(dtype=np.float32)[:rows]
    out = predictor.predict(x)
    if ref.spec.task == "regression":
        return [float(v) for v in out.reshape(len(x), -1)[:, 0]]
    classes = list(predictor.signature.classes) or list(range(out.shape[1]))
    return [str(classes[i]) for i in out.argmax(axis=1)]


def _window_text(window: Window, ref: Reference) -> str:
    span = f"{window.start:%Y-%m-%d %H:%M} → {window.end:%Y-%m-%d %H:%M} UTC" if window.start and window.end else \
        "no rows"
    kept = f", {window.kept:,} sampled" if window.kept < window.total else ""
    return (f"{window.total:,} logged predictions ({span}{kept}) against {len(ref.features):,} training rows of "
            f"data version {ref.data_md5[:12]}")


def _live(repo: Repository, record_metrics: dict[str, float], spec_perf: object, labels_at: str, model: str,
          window: Window, ref: Reference, seed: int) -> Live:
    from mlops.core.spec.model import Performance

    perf = spec_perf if isinstance(spec_perf, Performance) else None
    if perf is None:
        return live_performance(None, record_metrics, [], [])
    table = open_data(labels_at, repo.root).read_labels(model)
    joined = join(window, table)
    outputs = window.outputs[joined["position"].to_numpy()] if len(joined) else np.zeros((0, 1))
    if ref.spec.task == "regression":
        y = joined["label"].astype(float).to_numpy() if len(joined) else np.zeros(0)
    else:
        y = class_indices(list(joined["label"]), ref.classes) if len(joined) else np.zeros(0, dtype=np.int64)
        if y is None:
            y = np.zeros(0, dtype=np.int64)
        known = y >= 0
        y, outputs = y[known], outputs[known]
    return live_performance(perf, record_metrics, y, outputs, seed=seed)


def _context(repo: Repository, forge: Forge, env: str, model: str, version: str, live: Live, now: datetime,
             base: str) -> Context:
    from mlops.deploy.history import pin_changes

    pr = forge.find_open_pr(f"mlops/retrain/{model}", base)
    scm = try_open_scm(repo.root)
    if scm is None:
        return Context(now, pr.number if pr else None)
    changes = pin_changes(scm, env, model)
    pinned = next((c for c in changes if c.after == version), None)
    previous = pinned.before if pinned else None
    promoted = datetime.fromisoformat(pinned.commit.committed) if pinned else None
    better = False
    if previous and live.interval and live.metric and previous in repo.records.get(model, {}):
        from mlops.core.spec.model import HIGHER_IS_BETTER

        # the previous version's test metric against this one's live interval: it did better than this does now
        estimate = repo.records[model][previous].spec.metrics.get(live.metric)
        if estimate is not None:
            better = estimate > live.interval[1] if live.metric in HIGHER_IS_BETTER else estimate < live.interval[0]
    return Context(now, pr.number if pr else None, promoted, previous, better)


def judge(repo: Repository, env: str, model: str, settings: Settings, say: Say = print) -> tuple[Outcome, Window,
                                                                                                   Reference]:
    """Read the window and judge it (drift, live performance, quality, operations); no history, no action."""
    from mlops.adapters.drift import drift_engine

    environment = repo.require_environment(env).spec
    spec = repo.require_model(model).spec
    pin = environment.pin(model)
    if pin is None:
        raise ValueError(f"{model} is not pinned in {env}")
    record = repo.require_record((model, pin.version)).spec
    mon = spec.monitoring
    ref = load_reference(repo, record)
    monitored = ref.monitored(mon.features)
    predictions_at, labels_at = monitored_sinks(environment, spec)
    seed = _seed(env, model, pin.version)
    since = settings.now - timedelta(hours=mon.window_hours) if mon.window_hours else None
    notes: list[str] = []
    if predictions_at is None:
        from mlops.adapters.sinks import empty_window

        window = empty_window(list(ref.features.columns), ("the prediction log stays inside the pods: give the "
                                                           "environment's monitoring.predictions a URL",))
    else:
        say(f"{env}/{model}: reading the last {mon.window_size:,} predictions of {pin.version} from {predictions_at}")
        window = open_data(predictions_at, repo.root).read_window(
            model, pin.version, list(ref.features.columns), rows=mon.window_size, since=since,
            sample=SAMPLE, seed=seed)
    notes += list(window.problems)
    engine = drift_engine(local=settings.local_drift)
    classification = ref.spec.task == "classification"
    reference = ref.features[monitored].copy()
    current = window.features[monitored].copy()
    prediction = None
    if len(window.meta) >= mon.min_samples:
        reference = reference.iloc[:REFERENCE_PREDICTIONS]
        reference["prediction"] = _predictions(repo, (model, pin.version), ref, len(reference))
        current["prediction"] = [str(v) if classification else float(v) for v in window.meta["prediction"]]
        prediction = "prediction"
    html = settings.out / f"monitor-{env}-{model}.html" if settings.out is not None else None
    result = engine.compare(reference, current, {c: ref.kinds[c] for c in monitored}, prediction=prediction,
                            prediction_kind="categorical" if classification else "numeric",
                            alpha=mon.drift.alpha, min_rows=mon.min_samples, report=html)
    live = _live(repo, record.metrics, mon.performance, labels_at, model, window, ref, seed)
    incidents = check_quality(ref.features, window.features, ref.kinds, window.schema.describe(),
                              window.schema.rows_left_out)
    operations = None
    source = metrics_source(environment.monitoring.prometheus_url)
    try:
        window_s = max(60, int((window.end - window.start).total_seconds())) if window.start and window.end else 3600
        operations = source.operations(environment_scope(environment, model, pin.version), window_s,
                                       price_per_replica_hour=environment.monitoring.price_per_replica_hour)
    except MetricsError as exc:
        notes.append(f"Prometheus: {exc.message}")
    finally:
        source.close()
    p_values = [t.p_value for t in result.tests if t.p_value is not None and t.p_value > 0]
    score = -math.log10(min(p_values)) if p_values else None
    key = situation(pin.version, window.start, window.end, window.total, live.labels, window.schema.rows_left_out)
    run = Run(at=settings.now.strftime("%Y-%m-%dT%H:%M:%SZ"), version=pin.version, situation=key, rows=window.total,
              drift=result.verdict, drift_score=score, drifted=tuple(result.drifted_columns), labels=live.labels,
              live=live.value, live_interval=live.interval, performance=live.verdict,
              incidents=tuple(i.kind for i in incidents))
    outcome = Outcome(env, model, pin.version, run, Decision("none", ""), _window_text(window, ref),
                      result.to_dict(), live, incidents, operations, notes=notes)
    if html is not None and html.is_file():
        outcome.html = html.name
    return outcome, window, ref


def monitor(repo: Repository, env: str, model: str, forge: Forge, settings: Settings, say: Say = print) -> Outcome:
    """Judge, remember, decide and act for one pinned model."""
    outcome, window, ref = judge(repo, env, model, settings, say)
    server, repository, run_id = (os.environ.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY",
                                                             "GITHUB_RUN_ID"))
    outcome.run_url = f"{server}/{repository}/actions/runs/{run_id}" if server and repository and run_id else None
    spec = repo.require_model(model).spec
    scm = try_open_scm(repo.root)
    base_sha = scm.require("HEAD") if scm is not None else settings.base
    store = HistoryStore(forge, repo.require_environment(env).spec.monitoring.state_branch, base_sha)
    _, history = store.load(env, model)
    ctx = _context(repo, forge, env, model, outcome.version, outcome.live or Live("", "", 0), settings.now,
                   settings.base)
    outcome.decision = decide(history, outcome.run, spec.monitoring, ctx)
    outcome.run = replace(outcome.run, decision=outcome.decision.action, reason=outcome.decision.reason)
    if not settings.act:
        outcome.history = history.with_run(outcome.run)
        return outcome
    claimed: list[bool] = []

    def append(current: History) -> History | None:
        claimed.clear()
        if current.find(outcome.run.situation) is not None:
            return None
        claimed.append(True)
        return current.with_run(outcome.run)

    history = store.update(env, model, append, f"monitor: {model} in {env}: {outcome.run.drift}, "
                                               f"{outcome.run.performance} → {outcome.decision.action}")
    outcome.history = history
    if not claimed:
        earlier = history.find(outcome.run.situation)
        outcome.repeated = True
        if earlier is not None:
            outcome.decision = Decision(earlier.decision, f"already judged at {earlier.at}: {earlier.reason}")
        return outcome
    outcome.notes += sync_incidents(forge, env, model, outcome.version, outcome.incidents, outcome.window, say=say)
    acted = _act(repo, env, model, outcome, window, ref, forge, settings, say) if outcome.decision.acts else None
    if acted is not None:
        run = replace(outcome.run, acted=acted)
        outcome.history = store.update(env, model, lambda h: h.replaced(run),
                                       f"monitor: {model} in {env}: {acted}")
        outcome.run = run
    return outcome


def _act(repo: Repository, env: str, model: str, outcome: Outcome, window: Window, ref: Reference, forge: Forge,
         settings: Settings, say: Say) -> str | None:
    if outcome.decision.action == "rollback":
        from mlops.adapters.serving import open_serving
        from mlops.deploy.run import roll_back

        mode = repo.require_environment(env).spec.delivery.mode
        target = None if mode == "pull" else open_serving(mode, root=repo.root)
        try:
            notes = roll_back(repo, env, model, target, forge, cause=f"monitor: {outcome.decision.reason}", say=say)
        finally:
            if target is not None:
                target.close()
        outcome.notes += notes
        return "rollback: " + "; ".join(notes)
    from mlops.monitor.retrain import open_retraining_pr

    pr = open_retraining_pr(repo, model, outcome, window, ref, forge, base=settings.base, say=say)
    if pr is None:
        outcome.notes.append("no retraining PR: the window has no labelled production row the data lacks")
        return None
    return f"retraining PR #{pr.number}"


def now_utc() -> datetime:
    return datetime.now(UTC)

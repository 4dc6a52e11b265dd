"""mlops evaluate's intervals: a scorer that gives per-row outputs (faked with real rows) gets a paired bootstrap of
candidate, baseline and Δ; bound gates, the environment's margin, and every way to end up without intervals."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from mlops.core.confidence import Bootstrap, Interval, Rows
from mlops.core.metrics import compute
from mlops.core.policy import confident
from mlops.core.repo import load_repository
from mlops.core.spec.record import VersionRecord
from mlops.evaluate.evaluate import Request, Scores, Unavailable, evaluate
from mlops.evaluate.pins import NO_ROWS, pin_verdict
from tests.helpers.scored import DATA_MD5, pin

AddRecord = Callable[..., VersionRecord]
CAND, BASE = "20250102-aaaaaaaa", "20250101-bbbbbbbb"
Y = np.random.default_rng(0).integers(0, 10, size=359)


def outputs(right: np.ndarray) -> np.ndarray:
    """Logits that put the label (where ``right``) or the next class first."""
    return np.eye(10)[np.where(right, Y, (Y + 1) % 10)] * 4.0


class RowScorer:
    """Scores versions from fixed per-row outputs on one test split, like the artifact scorer."""

    def __init__(self, by_version: dict[str, np.ndarray], unavailable: Sequence[str] = ()) -> None:
        self.by_version, self.unavailable = by_version, set(unavailable)

    def data_version(self) -> str:
        return DATA_MD5

    def score(self, record: VersionRecord, metrics: Sequence[str]) -> Scores:
        if record.version in self.unavailable:
            raise Unavailable("no DVC pointer for this version")
        out = self.by_version[record.version]
        return Scores(compute(metrics, Y, out), Rows(Y, out))


def models(disagree: int = 6, seed: int = 1) -> dict[str, np.ndarray]:
    """A baseline right on ~96 % of rows and a candidate that differs on ``disagree`` rows, half each way."""
    base = np.random.default_rng(seed).random(len(Y)) < 0.96
    cand = base.copy()
    wrong, right = np.flatnonzero(~base)[: disagree // 2], np.flatnonzero(base)[: disagree // 2]
    cand[wrong], cand[right] = True, False
    return {BASE: outputs(base), CAND: outputs(cand)}


def setup(example_repo: Path, add_record: AddRecord, env: str = "staging") -> None:
    add_record("digits-cnn", BASE, {"accuracy": 0.96}, created="2025-01-01T00:00:00Z")
    add_record("digits-cnn", CAND, {"accuracy": 0.96})
    pin(example_repo, env, "digits-cnn", BASE)


def test_candidate_baseline_and_delta_get_paired_intervals(example_repo: Path, add_record: AddRecord) -> None:
    setup(example_repo, add_record)
    verdict = evaluate(load_repository(example_repo), Request("digits-cnn", "staging"), RowScorer(models()))
    assert verdict.bootstrap == Bootstrap(rows=359) and verdict.no_interval == "" and verdict.margin == 0.0
    assert verdict.baseline is not None and not [n for n in verdict.notes if "interval" in n]
    for name in ("accuracy", "macro_f1", "log_loss"):
        low, high = verdict.candidate.intervals[name].low, verdict.candidate.intervals[name].high
        assert low <= verdict.candidate.metrics[name] <= high
        assert verdict.baseline.intervals[name].low <= verdict.baseline.metrics[name]
        assert verdict.delta_intervals[name].low < 0 < verdict.delta_intervals[name].high
    regression = next(g for g in verdict.gates if g.name == "no-accuracy-regression")
    assert regression.delta_low is not None and regression.delta_low < 0 and regression.value_low is not None
    assert not confident(verdict)  # 3 rows worse, 3 better: Δ's bound regresses more than 0.005 allows


def test_the_same_inputs_give_the_same_verdict_and_the_settings_are_kept(example_repo: Path,
                                                                        add_record: AddRecord) -> None:
    setup(example_repo, add_record)
    repo, scorer = load_repository(example_repo), RowScorer(models())
    first = evaluate(repo, Request("digits-cnn", "staging"), scorer)
    assert evaluate(repo, Request("digits-cnn", "staging"), scorer).to_dict() == first.to_dict()
    fewer = evaluate(repo, Request("digits-cnn", "staging"), scorer, Bootstrap(replicates=200, seed=7))
    assert fewer.bootstrap == Bootstrap(replicates=200, seed=7, rows=359)
    assert fewer.candidate.intervals != first.candidate.intervals


def test_a_bound_gate_with_the_environments_margin(example_repo: Path, add_record: AddRecord) -> None:
    """Identical predictions on all but 2 rows, the candidate better on both: the bound clears 0.005 with room."""
    staging = example_repo / "environments" / "staging.yaml"
    staging.write_text(staging.read_text("utf-8").replace("max_regression: 0.005}", "max_regression: 0.005, "
                                                          "judge: bound}").replace("confidence_margin: 0.0",
                                                                                   "confidence_margin: 0.004"))
    setup(example_repo, add_record)
    by_version = models(disagree=0)
    fixed = np.flatnonzero(by_version[BASE].argmax(1) != Y)[:2]
    by_version[CAND] = by_version[BASE].copy()
    by_version[CAND][fixed] = np.eye(10)[Y[fixed]] * 4.0
    verdict = evaluate(load_repository(example_repo), Request("digits-cnn", "staging"), RowScorer(by_version))
    gate = next(g for g in verdict.gates if g.name == "no-accuracy-regression")
    assert gate.judged == "bound" and gate.passed and gate.reason.startswith("no regression at the 95 % bound")
    assert verdict.delta_intervals["accuracy"].low == 0.0 and verdict.margin == 0.004
    assert confident(verdict) and not confident(verdict, 0.01)


def test_a_pinned_candidate_has_a_zero_delta(example_repo: Path, add_record: AddRecord) -> None:
    add_record("digits-cnn", CAND, {"accuracy": 0.96})
    pin(example_repo, "prod", "digits-cnn", CAND)
    verdict = evaluate(load_repository(example_repo), Request("digits-cnn", "prod"), RowScorer(models()))
    assert verdict.delta_intervals["accuracy"] == Interval(0.0, 0.0)
    assert verdict.baseline is not None and verdict.baseline.intervals == verdict.candidate.intervals


def test_a_baseline_from_its_record_has_no_delta_interval_and_no_confidence(example_repo: Path,
                                                                           add_record: AddRecord) -> None:
    setup(example_repo, add_record)
    verdict = evaluate(load_repository(example_repo), Request("digits-cnn", "staging"),
                       RowScorer(models(), unavailable=[BASE]))
    assert verdict.baseline is not None and verdict.baseline.source == "record" and verdict.baseline.intervals == {}
    assert verdict.delta_intervals == {} and set(verdict.candidate.intervals) == {"accuracy", "macro_f1", "log_loss"}
    reasons = verdict.confidence().reasons
    assert not confident(verdict) and reasons[0].startswith(f"baseline {BASE} is judged from its record")


def test_a_scorer_without_rows_gives_no_intervals_and_says_why(example_repo: Path, add_record: AddRecord) -> None:
    setup(example_repo, add_record)

    class Plain:
        def data_version(self) -> str:
            return DATA_MD5

        def score(self, record: VersionRecord, metrics: Sequence[str]) -> dict[str, float]:
            return {m: 0.97 if m != "log_loss" else 0.1 for m in metrics}

    verdict = evaluate(load_repository(example_repo), Request("digits-cnn", "staging"), Plain())
    assert verdict.passed and verdict.bootstrap is None and verdict.candidate.intervals == {}
    assert verdict.no_interval == "the scorer gave no per-row outputs to resample"
    assert verdict.confidence().reasons == ("no 95 % intervals: the scorer gave no per-row outputs to resample",)


def test_nan_outputs_are_noted(example_repo: Path, add_record: AddRecord) -> None:
    setup(example_repo, add_record)
    by_version = models()
    by_version[CAND] = by_version[CAND].copy()
    by_version[CAND][0, 0] = np.nan
    verdict = evaluate(load_repository(example_repo), Request("digits-cnn", "staging"), RowScorer(by_version))
    assert "log_loss" not in verdict.candidate.intervals and "accuracy" in verdict.delta_intervals
    assert verdict.notes[-1:] == ("no 95 % interval for log_loss: the candidate's log_loss is not finite on some "
                             "resamples (NaN or inf in its outputs)",)


def test_pin_verdicts_from_records_say_there_are_no_rows(example_repo: Path, add_record: AddRecord) -> None:
    setup(example_repo, add_record)
    verdict = pin_verdict(load_repository(example_repo), None, "staging", "digits-cnn")
    assert verdict is not None and verdict.bootstrap is None and verdict.no_interval == NO_ROWS
    assert not confident(verdict) and "no test rows were scored" in verdict.confidence().reasons[0]


def test_an_empty_split_gives_point_metrics_and_no_intervals(example_repo: Path, add_record: AddRecord) -> None:
    add_record("digits-cnn", CAND, {"accuracy": 0.0})

    class Empty(RowScorer):
        def score(self, record: VersionRecord, metrics: Sequence[str]) -> Scores:
            y, out = np.zeros(0, dtype=np.int64), np.zeros((0, 10))
            return Scores(compute(metrics, y, out), Rows(y, out))

    verdict = evaluate(load_repository(example_repo), Request("digits-cnn", "dev"), Empty({}))
    assert verdict.candidate.metrics["accuracy"] == 0.0 and verdict.bootstrap is None
    assert "the test split is empty" in verdict.no_interval

"""mlops evaluate's logic: candidate choice, baseline from the pin, recomputed metrics, gates (scorer faked)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from mlops.core.errors import UserError
from mlops.core.repo import load_repository
from mlops.core.spec.record import VersionRecord
from mlops.evaluate.evaluate import Request, Unavailable, evaluate
from tests.helpers.scored import DATA_MD5, pin

GOOD = {"accuracy": 0.97, "macro_f1": 0.96, "log_loss": 0.1}


class FakeScorer:
    """Returns fixed metrics per version; versions in ``unavailable`` cannot be fetched."""

    def __init__(self, by_version: dict[str, dict[str, float]], unavailable: Sequence[str] = (),
                 data: str = DATA_MD5) -> None:
        self.by_version, self.unavailable, self.data = by_version, set(unavailable), data
        self.scored: list[str] = []

    def data_version(self) -> str:
        return self.data

    def score(self, record: VersionRecord, metrics: Sequence[str]) -> dict[str, float]:
        self.scored.append(record.version)
        if record.version in self.unavailable:
            raise Unavailable("no DVC pointer for this version")
        return {m: v for m, v in self.by_version[record.version].items() if m in metrics}


AddRecord = Callable[..., VersionRecord]


def test_a_passing_candidate_with_no_baseline(example_repo: Path, add_record: AddRecord) -> None:
    add_record("digits-cnn", "20250102-aaaaaaaa", GOOD)
    repo = load_repository(example_repo)
    verdict = evaluate(repo, Request("digits-cnn", "staging"), FakeScorer({"20250102-aaaaaaaa": GOOD}))
    assert verdict.passed and verdict.baseline is None and verdict.data == DATA_MD5
    assert [(g.name, g.passed, g.reason) for g in verdict.gates] == [
        ("min-accuracy", True, "accuracy 0.9700 ≥ min 0.9"),
        ("accuracy-regression", True, "no baseline"),
        ("no-accuracy-regression", True, "no baseline"),
    ]
    assert verdict.notes == ()


def test_a_gate_min_above_the_achieved_accuracy_fails_with_the_reason(example_repo: Path,
                                                                      add_record: AddRecord) -> None:
    weak = {"accuracy": 0.92, "macro_f1": 0.9, "log_loss": 0.3}
    add_record("digits-cnn", "20250102-aaaaaaaa", weak)
    verdict = evaluate(load_repository(example_repo), Request("digits-cnn", "prod"),
                       FakeScorer({"20250102-aaaaaaaa": weak}))
    assert not verdict.passed
    assert [(g.name, g.reason) for g in verdict.failed] == [("prod-min-accuracy", "accuracy 0.9200 < min 0.93")]


def test_regression_against_the_pinned_baseline_evaluated_on_the_same_data(example_repo: Path,
                                                                           add_record: AddRecord) -> None:
    add_record("digits-cnn", "20250101-bbbbbbbb", {"accuracy": 0.99}, created="2025-01-01T00:00:00Z")
    add_record("digits-cnn", "20250102-aaaaaaaa", GOOD)
    pin(example_repo, "prod", "digits-cnn", "20250101-bbbbbbbb")
    scorer = FakeScorer({"20250102-aaaaaaaa": GOOD, "20250101-bbbbbbbb": {**GOOD, "accuracy": 0.975}})
    verdict = evaluate(load_repository(example_repo), Request("digits-cnn", "prod"), scorer)
    assert scorer.scored == ["20250102-aaaaaaaa", "20250101-bbbbbbbb"]
    assert verdict.baseline is not None and verdict.baseline.source == "evaluated"
    assert verdict.baseline.metrics["accuracy"] == 0.975 and verdict.baseline.record_metrics == {"accuracy": 0.99}
    assert [(g.name, g.reason) for g in verdict.failed] == [
        ("no-accuracy-regression", "regressed 0.0050 vs baseline 0.9750 (> 0 allowed)")]
    model_gate = next(g for g in verdict.gates if g.name == "accuracy-regression")
    assert model_gate.passed and model_gate.delta == pytest.approx(-0.005)


def test_an_unavailable_baseline_falls_back_to_its_record_and_says_so(example_repo: Path,
                                                                      add_record: AddRecord) -> None:
    add_record("digits-cnn", "20250101-bbbbbbbb", {"accuracy": 0.95}, created="2025-01-01T00:00:00Z")
    add_record("digits-cnn", "20250102-aaaaaaaa", GOOD)
    pin(example_repo, "staging", "digits-cnn", "20250101-bbbbbbbb")
    verdict = evaluate(load_repository(example_repo), Request("digits-cnn", "staging"),
                       FakeScorer({"20250102-aaaaaaaa": GOOD}, unavailable=["20250101-bbbbbbbb"]))
    assert verdict.passed and verdict.baseline is not None and verdict.baseline.source == "record"
    assert verdict.baseline.metrics == {"accuracy": 0.95}
    assert any("could not be evaluated on the current data (no DVC pointer" in n and "record's metrics" in n
               for n in verdict.notes)


def test_an_unavailable_candidate_is_an_error(example_repo: Path, add_record: AddRecord) -> None:
    add_record("digits-cnn", "20250102-aaaaaaaa", GOOD)
    with pytest.raises(UserError, match="cannot evaluate the candidate: no DVC pointer"):
        evaluate(load_repository(example_repo), Request("digits-cnn", "dev"),
                 FakeScorer({}, unavailable=["20250102-aaaaaaaa"]))


def test_the_newest_record_is_the_default_candidate(example_repo: Path, add_record: AddRecord) -> None:
    add_record("digits-cnn", "20250105-cccccccc", GOOD, created="2025-01-05T00:00:00Z")
    add_record("digits-cnn", "20250102-aaaaaaaa", GOOD, created="2025-01-02T00:00:00Z")
    scorer = FakeScorer({"20250105-cccccccc": GOOD, "20250102-aaaaaaaa": GOOD})
    repo = load_repository(example_repo)
    assert evaluate(repo, Request("digits-cnn", "dev"), scorer).candidate.version == "20250105-cccccccc"
    chosen = evaluate(repo, Request("digits-cnn", "dev", "20250102-aaaaaaaa"), scorer)
    assert chosen.candidate.version == "20250102-aaaaaaaa"


def test_recomputed_metrics_that_differ_from_the_record_are_noted(example_repo: Path,
                                                                  add_record: AddRecord) -> None:
    add_record("digits-cnn", "20250102-aaaaaaaa", GOOD)
    close = {**GOOD, "log_loss": 0.1 + 1e-9}
    far = {**GOOD, "accuracy": 0.95}
    repo = load_repository(example_repo)
    quiet = evaluate(repo, Request("digits-cnn", "dev"), FakeScorer({"20250102-aaaaaaaa": close}))
    loud = evaluate(repo, Request("digits-cnn", "dev"), FakeScorer({"20250102-aaaaaaaa": far}))
    assert quiet.notes == ()
    assert loud.notes == ("recomputed metrics of 20250102-aaaaaaaa differ from its record on the same data: "
                          "accuracy 0.95 (record 0.97)",)
    assert loud.candidate.metrics["accuracy"] == 0.95 and loud.candidate.record_metrics["accuracy"] == 0.97


def test_changed_data_is_noted_instead_of_a_mismatch(example_repo: Path, add_record: AddRecord) -> None:
    add_record("digits-cnn", "20250102-aaaaaaaa", GOOD, md5="0" * 32 + ".dir")
    verdict = evaluate(load_repository(example_repo), Request("digits-cnn", "dev"),
                       FakeScorer({"20250102-aaaaaaaa": {**GOOD, "accuracy": 0.93}}))
    assert len(verdict.notes) == 1 and "the data changed since 20250102-aaaaaaaa was recorded" in verdict.notes[0]


def test_a_candidate_that_is_the_pinned_version_is_scored_once(example_repo: Path, add_record: AddRecord) -> None:
    add_record("digits-cnn", "20250102-aaaaaaaa", GOOD)
    pin(example_repo, "prod", "digits-cnn", "20250102-aaaaaaaa")
    scorer = FakeScorer({"20250102-aaaaaaaa": GOOD})
    verdict = evaluate(load_repository(example_repo), Request("digits-cnn", "prod"), scorer)
    assert scorer.scored == ["20250102-aaaaaaaa"] and verdict.passed
    assert verdict.baseline is not None and verdict.baseline.version == "20250102-aaaaaaaa"


def test_only_the_needed_metrics_are_requested(example_repo: Path, add_record: AddRecord) -> None:
    add_record("cancer-mlp", "20250102-aaaaaaaa", GOOD)
    seen: list[list[str]] = []

    class Recording(FakeScorer):
        def score(self, record: VersionRecord, metrics: Sequence[str]) -> dict[str, float]:
            seen.append(list(metrics))
            return super().score(record, metrics)

    evaluate(load_repository(example_repo), Request("cancer-mlp", "prod"), Recording({"20250102-aaaaaaaa": GOOD}))
    assert seen == [["accuracy", "log_loss", "macro_f1"]]


@pytest.mark.parametrize(("request_", "message"), [
    (Request("nope", "dev"), "no model named 'nope'; expected one of cancer-mlp, digits-cnn"),
    (Request("digits-cnn", "qa"), "no environment named 'qa'; expected one of dev, prod, staging"),
    (Request("digits-cnn", "dev"), "model 'digits-cnn' has no version records; train one first"),
    (Request("digits-cnn", "dev", "20990101-ffffffff"), "no version '20990101-ffffffff' of model 'digits-cnn'"),
])
def test_bad_requests_are_clear_errors(example_repo: Path, request_: Request, message: str) -> None:
    with pytest.raises(UserError, match=message):
        evaluate(load_repository(example_repo), request_, FakeScorer({}))

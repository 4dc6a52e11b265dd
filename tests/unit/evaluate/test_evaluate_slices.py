"""mlops evaluate with slices: both versions measured per slice on the same rows, slice gates in the verdict;
a scorer without slice membership falls back to the records; pin verdicts judge the records' slices."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from mlops.core.confidence import Rows
from mlops.core.metrics import compute
from mlops.core.policy import Verdict
from mlops.core.repo import load_repository
from mlops.core.spec.record import VersionRecord
from mlops.evaluate.evaluate import Request, Scores, evaluate
from mlops.evaluate.pins import pin_verdict
from tests.helpers.scored import DATA_MD5, pin, record_body, write_record

AddRecord = Callable[..., VersionRecord]
MODEL = "cancer-mlp"
CAND, BASE = "20250102-aaaaaaaa", "20250101-bbbbbbbb"
N = 150
Y = np.random.default_rng(0).integers(0, 2, size=N)
SIZE = {"small": np.arange(N) < 50, "medium": (np.arange(N) >= 50) & (np.arange(N) < 100),
        "large": np.arange(N) >= 100}
SLICE_GATES = ["min-accuracy-per-size", "max-accuracy-gap-by-size"]


def outputs(wrong: Sequence[int]) -> np.ndarray:
    right = np.ones(N, dtype=bool)
    right[list(wrong)] = False
    return np.eye(2)[np.where(right, Y, 1 - Y)] * 3.0


class SliceScorer:
    """Per-row outputs of each version on one test split, and which rows each slice holds (like the artifact
    scorer); ``masks=False`` gives the rows without slice membership."""

    def __init__(self, by_version: dict[str, np.ndarray], masks: bool = True) -> None:
        self.by_version, self.masks = by_version, masks

    def data_version(self) -> str:
        return DATA_MD5

    def score(self, record: VersionRecord, metrics: Sequence[str]) -> Scores:
        out = self.by_version[record.version]
        return Scores(compute(metrics, Y, out), Rows(Y, out), SIZE if self.masks else None)


def slices_of(out: np.ndarray) -> dict[str, dict[str, object]]:
    return {name: {"rows": int(m.sum()), "metrics": compute(["accuracy"], Y[m], out[m]),
                   "intervals": {"accuracy": [0.8, 1.0]}} for name, m in SIZE.items()}


def setup(repo: Path, add_record: AddRecord, cand: np.ndarray, base: np.ndarray, *, recorded: bool = True) -> None:
    good = {"accuracy": 0.97, "macro_f1": 0.96, "log_loss": 0.1}
    for version, out, created in ((BASE, base, "2025-01-01T00:00:00Z"), (CAND, cand, "2025-01-02T00:00:00Z")):
        body = record_body(MODEL, version, good, created=created)
        write_record(repo, {**body, **({"slices": slices_of(out)} if recorded else {})})
    pin(repo, "staging", MODEL, BASE)


def gates(verdict: Verdict) -> dict[str, tuple[bool, str]]:
    return {g.name: (g.passed, g.reason) for g in verdict.gates if g.name in SLICE_GATES}


def test_both_versions_are_measured_per_slice_and_the_slice_gates_judged(example_repo: Path,
                                                                         add_record: AddRecord) -> None:
    cand, base = outputs(range(50, 55)), outputs(range(50, 52))  # medium: 45/50 and 48/50 right
    setup(example_repo, add_record, cand, base)
    verdict = evaluate(load_repository(example_repo), Request(MODEL, "staging"), SliceScorer({CAND: cand,
                                                                                              BASE: base}))
    assert gates(verdict) == {
        "min-accuracy-per-size": (True, "worst slice medium: accuracy 0.9000 ≥ min 0.85"),
        "max-accuracy-gap-by-size": (True, "gap 0.1000 between small (1.0000) and medium (0.9000) ≤ max 0.15")}
    assert list(verdict.candidate.slices) == ["small", "medium", "large"]
    medium = verdict.candidate.slices["medium"]
    assert medium.rows == 50 and medium.metrics["accuracy"] == 0.9 and set(medium.metrics) >= {"log_loss"}
    assert verdict.baseline is not None and verdict.baseline.slices["medium"].metrics["accuracy"] == 0.96
    worst = next(g for g in verdict.gates if g.name == "min-accuracy-per-size")
    assert worst.worst_slice == "medium" and worst.baseline == 0.96 and worst.delta_low is not None
    assert worst.value_low is not None and worst.value_low < 0.9 and not [n for n in verdict.notes if "slice" in n]
    assert Verdict.from_dict(verdict.to_dict()) == verdict


def test_a_bad_slice_fails_the_verdict(example_repo: Path, add_record: AddRecord) -> None:
    cand, base = outputs(range(50, 60)), outputs([])  # medium: 40/50 right, the others all right
    setup(example_repo, add_record, cand, base)
    verdict = evaluate(load_repository(example_repo), Request(MODEL, "dev"), SliceScorer({CAND: cand, BASE: base}))
    assert not verdict.passed and [g.name for g in verdict.failed] == SLICE_GATES
    assert gates(verdict)["min-accuracy-per-size"] == (False, "worst slice medium: accuracy 0.8000 < min 0.85")


def test_without_slice_membership_the_records_decide_and_the_verdict_says_so(example_repo: Path,
                                                                              add_record: AddRecord) -> None:
    cand, base = outputs(range(50, 55)), outputs([])
    setup(example_repo, add_record, cand, base)
    verdict = evaluate(load_repository(example_repo), Request(MODEL, "staging"),
                       SliceScorer({CAND: cand, BASE: base}, masks=False))
    assert gates(verdict)["min-accuracy-per-size"][0] is True
    assert f"slice metrics of {CAND} are from its record: the scorer gave no per-row slice membership" in \
        verdict.notes
    gate = next(g for g in verdict.gates if g.name == "min-accuracy-per-size")
    assert gate.value_low is None and gate.baseline == 1.0  # no replicates from records: no interval


def test_a_record_without_slices_fails_the_slice_gates_and_says_why(example_repo: Path,
                                                                     add_record: AddRecord) -> None:
    setup(example_repo, add_record, outputs([]), outputs([]), recorded=False)
    verdict = pin_verdict(load_repository(example_repo), None, "staging", MODEL)
    assert verdict is not None and not verdict.passed
    passed, reason = gates(verdict)["max-accuracy-gap-by-size"]
    assert not passed and reason.startswith(f"the record of {BASE} has no slice metrics (trained before "
                                            "evaluation.slices named any)")


def test_pin_verdicts_judge_the_records_slices(example_repo: Path, add_record: AddRecord) -> None:
    setup(example_repo, add_record, outputs(range(50, 60)), outputs(range(100, 102)))
    verdict = pin_verdict(load_repository(example_repo), None, "staging", MODEL)
    assert verdict is not None and verdict.candidate.version == BASE
    assert all(passed for passed, _ in gates(verdict).values()) and set(gates(verdict)) == set(SLICE_GATES)
    assert verdict.candidate.slices["large"].metrics["accuracy"] == 0.96
    pin(example_repo, "dev", MODEL, CAND)
    dev = pin_verdict(load_repository(example_repo), None, "dev", MODEL)
    assert dev is not None and gates(dev)["min-accuracy-per-size"] == (
        False, "worst slice medium: accuracy 0.8000 < min 0.85")

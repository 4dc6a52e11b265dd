"""The PR comment, byte for byte, against golden files (regenerate with UPDATE_GOLDEN=1)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mlops.core.confidence import Bootstrap, Interval
from mlops.core.policy import Subject, Verdict, judge
from mlops.core.spec.model import Gate
from mlops.core.spec.record import VersionRecord
from mlops.report.collect import EnvRow, ModelReport, ReportData
from mlops.report.markdown import MARKER, render
from mlops.train.record import finalize
from tests.helpers.scored import record_body

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "report"
OLD_MD5 = "0123456789abcdef0123456789abcdef.dir"
NEW_MD5 = "da399c5958ea72e7011f9ec8b3fa1f5a.dir"


def record(version: str, metrics: dict[str, float], **kw: object) -> VersionRecord:
    return finalize(record_body("digits-cnn", version, metrics, **kw))[0]  # type: ignore[arg-type]


def check(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(text, "utf-8")
    assert path.is_file(), f"missing golden file {path}; run with UPDATE_GOLDEN=1"
    assert text == path.read_text("utf-8"), f"{name} differs from the golden file (UPDATE_GOLDEN=1 to accept)"


def full_report() -> ReportData:
    baseline = record("20250101-bbbbbbbb", {"accuracy": 0.9583, "macro_f1": 0.9571, "log_loss": 0.151},
                      created="2025-01-01T00:00:00Z", md5=OLD_MD5, params={"channels": 16, "hidden": 64})
    history = {"train_loss": [1.9, 0.8, 0.41, 0.27], "val_loss": [1.2, 0.55, 0.36, 0.31],
               "val_accuracy": [0.61, 0.88, 0.93, 0.95]}
    cand = record("20250102-aaaaaaaa", {"accuracy": 0.9276, "macro_f1": 0.9262, "log_loss": 0.2411},
                  params={"channels": 32, "hidden": 64, "dropout": 0.2}, history=history)
    evaluated = {"accuracy": 0.9276, "macro_f1": 0.9262, "log_loss": 0.2411}
    base_now = {"accuracy": 0.9554, "macro_f1": 0.9540, "log_loss": 0.1603}
    cand_iv = {"accuracy": Interval(0.9053, 0.9526), "macro_f1": Interval(0.9011, 0.9509),
               "log_loss": Interval(0.1893, 0.2975)}
    base_iv = {"accuracy": Interval(0.9331, 0.9749), "macro_f1": Interval(0.9302, 0.9741),
               "log_loss": Interval(0.1207, 0.2046)}
    delta_iv = {"accuracy": Interval(-0.0446, -0.0111), "macro_f1": Interval(-0.0452, -0.0104),
                "log_loss": Interval(0.0461, 0.1182)}
    margins = {"dev": 0.0, "staging": 0.01, "prod": 0.0}
    model_gates = [(Gate(name="min-accuracy", metric="accuracy", min=0.9), "model"),
                   (Gate(name="accuracy-regression", metric="accuracy", max_regression=0.01), "model")]
    env_gates = {
        "dev": [],
        "staging": [(Gate(name="no-accuracy-regression", metric="accuracy", max_regression=0.005, judge="bound"),
                     "environment")],
        "prod": [(Gate(name="no-accuracy-regression", metric="accuracy", max_regression=0.0), "environment"),
                 (Gate(name="prod-min-accuracy", metric="accuracy", min=0.93), "environment")],
    }
    candidate = Subject(cand.version, evaluated, "evaluated", dict(cand.metrics), cand_iv)
    rows = []
    for env, pinned, source in (("dev", None, ""), ("staging", baseline, "evaluated"), ("prod", baseline, "record")):
        base = None if pinned is None else Subject(pinned.version, base_now if source == "evaluated"
                                                   else dict(pinned.metrics), source, dict(pinned.metrics),
                                                   base_iv if source == "evaluated" else {})
        notes = ("baseline 20250101-bbbbbbbb could not be evaluated on the current data (no DVC pointer); its "
                 "record's metrics are used instead",) if source == "record" else ()
        deltas = delta_iv if source == "evaluated" else {}
        gates = judge(model_gates + env_gates[env], evaluated, base.metrics if base else None, intervals=cand_iv,
                      delta_intervals=deltas)
        verdict = Verdict("digits-cnn", env, candidate, base, gates, NEW_MD5, notes, deltas,
                          Bootstrap(rows=359), margin=margins[env])
        rows.append(EnvRow(env, pinned, verdict, required=env == "dev", auto_merge=env != "prod"))
    digits = ModelReport("digits-cnn", cand.version, cand, rows, changed=True)
    cancer = ModelReport("cancer-mlp", None, None,
                         [EnvRow(e, None, None, e == "dev") for e in ("dev", "staging", "prod")], changed=True)
    unified = ("--- a/staging/digits-cnn/deployment.yaml\n+++ b/staging/digits-cnn/deployment.yaml\n"
               "@@ -20 +20 @@\n-        mlops.dev/version: 20250101-bbbbbbbb\n"
               "+        mlops.dev/version: 20250102-aaaaaaaa")
    return ReportData([cancer, digits], head="9f8e7d6c5b4a39281706f5e4d3c2b1a098765432", base="origin/main",
                      data=(OLD_MD5, NEW_MD5),
                      manifest=["dev: no changes",
                                "staging: 0 added, 0 removed, 1 changed — digits-cnn: version 20250101-bbbbbbbb → "
                                "20250102-aaaaaaaa", "prod: no changes"],
                      manifest_unified=unified)


def test_full_report_matches_golden() -> None:
    text = render(full_report())
    assert text.startswith(MARKER + "\n")
    check("full.md", text)


def test_failing_required_gate_and_promotion_gates_are_told_apart() -> None:
    text = render(full_report())
    assert "✅ **All required gates passed** · not yet promotable: digits-cnn to staging, digits-cnn to prod" in text
    assert "| dev | none pinned | ✅ 2/2 gates passed · **required** |" in text
    assert "| prod | `prod-min-accuracy` (env policy) | ≥ 0.93 | 0.9276 | ❌ accuracy 0.9276 \\< min 0.93 |" in text


def test_report_without_models_or_base_matches_golden() -> None:
    check("empty.md", render(ReportData([], head="9f8e7d6c5b4a", manifest_note="no base revision to compare "
                                                                               "with (pass --base)")))


def test_same_input_same_bytes() -> None:
    assert render(full_report()) == render(full_report())


@pytest.mark.parametrize("required", [True, False])
def test_a_required_failure_is_the_headline(required: bool) -> None:
    data = full_report()
    digits = data.models[1]
    rows = [EnvRow(r.env, r.baseline, r.verdict, required or r.env == "prod") for r in digits.envs]
    data = ReportData([ModelReport("digits-cnn", digits.candidate, digits.record, rows)], head=data.head)
    expected = "digits-cnn in staging, digits-cnn in prod" if required else "digits-cnn in prod"
    assert render(data).splitlines()[3] == f"❌ **Required gates failed**: {expected}"


def test_a_huge_diff_is_truncated_to_fit_a_comment() -> None:
    data = full_report()
    big = ReportData(data.models, data.head, data.base, data.data, data.manifest,
                     "\n".join(f"+line {i}" for i in range(20_000)))
    text = render(big)
    assert len(text) < 65_536 and "(truncated; run `mlops diff` for all of it)" in text

"""What a comparison will test, decided before any test runs; and the result, once the tests have run.

Shared by both engines so that they sample, check and correct identically and differ only in who runs
the tests (evidently, or the same functions called directly):

- Seeded samples of fixed size: at most ``reference_rows`` of the reference (the training data) and
  ``current_rows`` of the window, so the cost of a run does not grow with the prediction log.
- Per column: missing from a window, not numeric, or fewer than ``min_rows`` usable values → the column
  is *insufficient* (with the reason); a numeric column whose reference sample has few distinct values
  (pixel intensities 0..16 declared ``float32``) is tested as discrete, with ties handled.
- One Bonferroni level ``alpha / K`` for all K tests (every monitored column + the prediction), K fixed
  by the configuration, not by which columns happened to be testable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mlops.adapters.drift import ColumnDrift, DriftResult
from mlops.adapters.drift.stattests import Outcome
from mlops.core.drift import KINDS, Kind, bonferroni

REFERENCE_ROWS = 20_000  # default caps of the seeded samples (see EvidentlyDriftEngine for why)
CURRENT_ROWS = 20_000
DISCRETE_LEVELS = 32  # a numeric column with at most this many distinct reference values is tested as discrete
METHODS: dict[Kind, str] = {"numeric": "ks", "discrete": "ks+chi2", "categorical": "chi2"}


@dataclass(frozen=True)
class Planned:
    column: str
    kind: Kind  # the kind tested (a numeric column may be tested as discrete)
    notes: tuple[str, ...] = ()
    insufficient: str | None = None
    # the values the test sees (reference, current): the sample's column without missing values
    values: tuple[np.ndarray, np.ndarray] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Plan:
    reference: pd.DataFrame  # the sampled rows of the testable columns, missing values and infinities dropped per test
    current: pd.DataFrame
    columns: tuple[Planned, ...]
    prediction: Planned | None
    alpha: float
    threshold: float
    reference_total: int
    current_total: int
    insufficient: str | None

    @property
    def testable(self) -> list[Planned]:
        items = [*self.columns, *([self.prediction] if self.prediction is not None else [])]
        return [p for p in items if p.insufficient is None]


def sample(frame: pd.DataFrame, columns: list[str], rows: int, seed: int) -> pd.DataFrame:
    """At most ``rows`` rows of ``columns``, drawn without replacement by a seeded generator (order kept).

    Infinities in float columns become missing values: no test can use them, and evidently's summaries
    (means, standard deviations) would turn them into NaN with a warning.
    """
    if len(frame) <= rows:
        out = frame[columns].reset_index(drop=True).copy()
    else:
        index = np.sort(np.random.default_rng(seed).choice(len(frame), size=rows, replace=False))
        out = frame.iloc[index][columns].reset_index(drop=True)  # rows first: never copies the whole window
    for name in columns:
        values = out[name].to_numpy()
        if values.dtype.kind == "f" and np.isinf(values).any():
            out[name] = np.where(np.isinf(values), np.nan, values)
    return out


def usable(values: pd.Series, kind: Kind) -> np.ndarray:
    """The values a test sees: missing values (and infinities, for numbers) left out, as evidently does."""
    if kind == "categorical":
        return values.dropna().to_numpy()
    x = values.to_numpy(dtype=float, na_value=np.nan)
    return x[np.isfinite(x)]


def _check(name: str, kind: Kind, ref: pd.DataFrame, cur: pd.DataFrame, min_rows: int) -> Planned:
    for frame, where in ((ref, "the reference data"), (cur, "the current window")):
        if name not in frame.columns:
            return Planned(name, kind, insufficient=f"missing from {where}")
        if kind != "categorical" and not pd.api.types.is_numeric_dtype(frame[name]):
            return Planned(name, kind, insufficient=f"not numeric in {where} (dtype {frame[name].dtype})")
    notes: list[str] = []
    values = usable(ref[name], kind), usable(cur[name], kind)
    for kept, frame, where in ((values[0], ref, "reference"), (values[1], cur, "current")):
        if len(kept) < min_rows:
            return Planned(name, kind, insufficient=f"{len(kept)} usable values in the {where} sample; "
                                                    f"at least {min_rows} are needed to decide")
        if len(kept) < len(frame):
            notes.append(f"{1 - len(kept) / len(frame):.1%} missing or infinite in {where}, left out")
    if kind == "numeric":
        levels = len(np.unique(values[0]))
        if levels <= DISCRETE_LEVELS:
            kind = "discrete"
            notes.append(f"{levels} distinct reference values: tested as discrete")
    return Planned(name, kind, tuple(notes), values=values)


def plan(reference: pd.DataFrame, current: pd.DataFrame, kinds: Mapping[str, Kind], *, prediction: str | None,
         prediction_kind: Kind, alpha: float, min_rows: int, reference_rows: int, current_rows: int,
         seed: int) -> Plan:
    """Sample both windows and decide, per column, which test runs or why none can."""
    for name, kind in [*kinds.items(), *([(prediction, prediction_kind)] if prediction else [])]:
        if kind not in KINDS:
            raise ValueError(f"column {name!r} has kind {kind!r}; expected one of {', '.join(KINDS)}")
    if prediction is not None and prediction in kinds:
        raise ValueError(f"prediction column {prediction!r} is also listed as a feature")
    if not kinds and prediction is None:
        raise ValueError("nothing to compare: no columns and no prediction column")
    if min_rows < 2:
        raise ValueError(f"min_rows {min_rows} is below 2")
    names = [*kinds, *([prediction] if prediction else [])]
    threshold = bonferroni(alpha, len(names))
    ref = sample(reference, [n for n in names if n in reference.columns], reference_rows, seed)
    cur = sample(current, [n for n in names if n in current.columns], current_rows, seed + 1)
    window = None
    if len(cur) < min_rows or len(ref) < min_rows:
        which, rows = ("current window", len(cur)) if len(cur) < min_rows else ("reference data", len(ref))
        window = f"the {which} has {rows} rows; at least {min_rows} are needed to decide"
    checked = {n: Planned(n, k, insufficient=window) if window else _check(n, k, ref, cur, min_rows)
               for n, k in [*kinds.items(), *([(prediction, prediction_kind)] if prediction else [])]}
    testable = [p.column for p in checked.values() if p.insufficient is None]
    return Plan(ref[[n for n in testable if n in ref.columns]], cur[[n for n in testable if n in cur.columns]],
                tuple(checked[n] for n in kinds), checked[prediction] if prediction else None, alpha, threshold,
                len(reference), len(current), window)


def column_result(planned: Planned, threshold: float, outcome: Outcome | None) -> ColumnDrift:
    """A column's verdict from its test's outcome (``None``: the column was insufficient)."""
    if outcome is None or planned.insufficient is not None:
        reason = planned.insufficient or "not tested"
        return ColumnDrift(planned.column, planned.kind, METHODS[planned.kind], None, None, threshold, False,
                           f"cannot decide: {reason}", reason)
    detail = "; ".join([outcome.detail, *planned.notes])
    return ColumnDrift(planned.column, planned.kind, outcome.method, outcome.statistic, outcome.p_value, threshold,
                       outcome.p_value <= threshold, detail)


def result(p: Plan, outcomes: Mapping[str, Outcome]) -> DriftResult:
    """The comparison's result from the outcomes of the testable columns, by column name."""
    columns = tuple(column_result(c, p.threshold, outcomes.get(c.column)) for c in p.columns)
    pred = column_result(p.prediction, p.threshold, outcomes.get(p.prediction.column)) if p.prediction else None
    notes = tuple(f"compared a seeded sample of {len(frame):,} of the {total:,} {what} rows"
                  for frame, total, what in ((p.reference, p.reference_total, "reference"),
                                             (p.current, p.current_total, "current"))
                  if len(frame) < total)
    return DriftResult(columns, pred, p.alpha, len(p.reference), len(p.current), p.reference_total,
                       p.current_total, p.insufficient, notes)

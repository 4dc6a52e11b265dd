"""Pure arithmetic of drift testing: column kinds, the multiple-testing correction, sparse-cell merging.

No pandas, numpy or evidently here (the validate and render verbs must stay light): the adapter
``mlops.adapters.drift`` runs the statistical tests and calls these helpers for the parts that are
plain bookkeeping, so they can be tested exactly.

Why a correction at all: a monitor that tests K columns each at level ``a`` raises a false alarm in
up to ``1 - (1 - a)^K`` of runs on unchanged data (64 columns at 0.05: 96 %). Bonferroni's level
``alpha / K`` per column keeps the probability of *any* false alarm in a run at or below ``alpha``
whatever the dependence between columns; the run-level decision ("did anything drift?") is the same
as Holm's step-down, which would only flag extra columns in a run that is already flagged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal, get_args

Kind = Literal["numeric", "discrete", "categorical"]
KINDS: tuple[str, ...] = get_args(Kind)
# Pearson's chi-square is trusted when every expected cell count is at least this (Cochran's rule).
MIN_EXPECTED = 5.0
# The default family-wise level: half of the 1 % goal for false alarms per run. Bonferroni guarantees
# ≤ alpha only if every test's p-value is exact; KS is close to exact at monitoring sizes and Pearson's χ²
# runs up to ~1.25× its nominal level in the far tail (measured), so alpha = 0.01 would sit on the goal
# rather than under it. The price in power is small: the per-test level goes from 1.5e-4 to 7.7e-5.
DEFAULT_ALPHA = 0.005

_DTYPE_KINDS: dict[str, Kind] = {
    "float16": "numeric", "float32": "numeric", "float64": "numeric",
    "int8": "discrete", "int16": "discrete", "int32": "discrete", "int64": "discrete",
    "uint8": "discrete", "uint16": "discrete", "uint32": "discrete", "uint64": "discrete",
    "bool": "categorical", "str": "categorical", "string": "categorical", "category": "categorical",
}


def kinds_from_dtypes(features: Mapping[str, str]) -> dict[str, Kind]:
    """Column kinds from a model spec's ``data.features`` (name → dtype), in the spec's order.

    Floats are numeric, integers discrete (ties are expected), booleans and strings categorical.
    A float column whose values are in fact a few levels (the digits' pixel intensities 0..16 are
    declared ``float32``) is recognised by the engine from its reference sample, not here.
    """
    kinds: dict[str, Kind] = {}
    for name, dtype in features.items():
        kind = _DTYPE_KINDS.get(dtype)
        if kind is None:
            raise ValueError(f"feature {name!r} has dtype {dtype!r}; expected one of {sorted(_DTYPE_KINDS)}")
        kinds[name] = kind
    return kinds


def bonferroni(alpha: float, tests: int) -> float:
    """The per-test level that keeps the family-wise error rate of ``tests`` tests at or below ``alpha``."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha {alpha} is outside (0, 1)")
    if tests < 1:
        raise ValueError(f"{tests} tests; expected at least one")
    return alpha / tests


def min_pooled(reference_rows: int, current_rows: int, min_expected: float = MIN_EXPECTED) -> float:
    """The pooled count a cell needs so that its expected count in the smaller sample is ``min_expected``.

    Under "no drift" the expected count of a cell in sample ``s`` is ``pooled · rows_s / (n + m)``.
    """
    total = reference_rows + current_rows
    return min_expected * total / max(1, min(reference_rows, current_rows))


def merge_adjacent(reference: Sequence[int], current: Sequence[int], need: float) -> tuple[list[int], list[int]]:
    """Merge ordered cells (the levels of a discrete column) left to right until each pooled cell ≥ ``need``.

    The remainder at the end joins the last full cell. Merging depends on the pooled counts only, which
    are the same whichever sample a row came from, so the test stays valid under "no drift".
    """
    out_r: list[int] = []
    out_c: list[int] = []
    acc_r = acc_c = 0
    for r, c in zip(reference, current, strict=True):
        acc_r, acc_c = acc_r + r, acc_c + c
        if acc_r + acc_c >= need:
            out_r.append(acc_r)
            out_c.append(acc_c)
            acc_r = acc_c = 0
    if acc_r + acc_c:
        if out_r:
            out_r[-1] += acc_r
            out_c[-1] += acc_c
        else:
            out_r.append(acc_r)
            out_c.append(acc_c)
    return out_r, out_c


def merge_rare(reference: Sequence[int], current: Sequence[int], need: float) -> tuple[list[int], list[int]]:
    """Keep unordered cells (categories) whose pooled count ≥ ``need``; pool the rest into one "other" cell.

    An "other" cell still below ``need`` joins the smallest kept cell. Cells are visited in the order
    given (callers pass them sorted by pooled count, largest first) so the result is deterministic.
    """
    keep_r: list[int] = []
    keep_c: list[int] = []
    other_r = other_c = 0
    for r, c in zip(reference, current, strict=True):
        if r + c >= need:
            keep_r.append(r)
            keep_c.append(c)
        else:
            other_r, other_c = other_r + r, other_c + c
    if other_r + other_c:
        if other_r + other_c >= need or not keep_r:
            keep_r.append(other_r)
            keep_c.append(other_c)
        else:
            smallest = min(range(len(keep_r)), key=lambda i: (keep_r[i] + keep_c[i], -i))
            keep_r[smallest] += other_r
            keep_c[smallest] += other_c
    return keep_r, keep_c

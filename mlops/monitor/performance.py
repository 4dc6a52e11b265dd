"""Live performance: the record's metric on the labelled predictions of the window, with a 95 % interval.

Delayed labels arrive for some predictions; joined by request id (and the sample's row) they give the live
metric over those rows. The bootstrap is the evaluation's (:mod:`mlops.core.confidence`), resampling the
labelled production rows. The verdict is *worse* only when the whole interval is beyond the record's test
metric by more than the policy's ``degradation`` — a noisy estimate on few labels never triggers a rollback —
and *insufficient labels* below ``min_labels`` labelled rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from mlops.core.confidence import Bootstrap, Rows, paired_bootstrap
from mlops.core.metrics import point
from mlops.core.spec.model import HIGHER_IS_BETTER, Performance

METHOD = "percentile bootstrap over the labelled production rows"


@dataclass(frozen=True)
class Live:
    metric: str
    verdict: str  # "worse" | "ok" | "insufficient labels" | "not configured"
    labels: int
    value: float | None = None
    interval: tuple[float, float] | None = None
    reference: float | None = None  # the record's test metric
    limit: float | None = None  # the reference minus (plus) the tolerance
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "verdict": self.verdict, "labels": self.labels, "value": self.value,
                "interval": list(self.interval) if self.interval else None, "reference": self.reference,
                "limit": self.limit, "detail": self.detail}


def class_indices(labels: Sequence[Any], classes: Sequence[Any]) -> npt.NDArray[np.int64] | None:
    """Labels as indices into the model's ``classes`` (compared as text: ``7`` and ``"7"`` are one class);
    -1 for a label the model does not know; None when ``classes`` is empty (labels must be indices)."""
    if not classes:
        try:
            return np.asarray([int(v) for v in labels], dtype=np.int64)
        except (TypeError, ValueError):
            return None
    index = {str(c): i for i, c in enumerate(classes)}
    return np.asarray([index.get(str(v), -1) for v in labels], dtype=np.int64)


def live_performance(config: Performance | None, record_metrics: dict[str, float], labels: npt.ArrayLike,
                     outputs: npt.ArrayLike, *, seed: int = 0, replicates: int = 1000) -> Live:
    """Judge the live metric of ``outputs`` (one row per labelled prediction) against the record's."""
    if config is None:
        return Live("", "not configured", 0, detail="the model's monitoring.performance is not set")
    y = np.asarray(labels)
    out = np.asarray(outputs, dtype=np.float64)
    n = int(y.reshape(-1).size)
    metric, reference = config.metric, record_metrics.get(config.metric)
    higher = metric in HIGHER_IS_BETTER
    limit = None if reference is None else reference - config.degradation if higher else \
        reference + config.degradation
    if n < config.min_labels:
        return Live(metric, "insufficient labels", n, reference=reference, limit=limit,
                    detail=f"{n} labelled predictions; {config.min_labels} needed (performance.min_labels)")
    value = point(metric, y, out)
    found = paired_bootstrap([metric], Rows(y, out), config=Bootstrap(replicates, seed, method=METHOD))
    interval = found.candidate.get(metric)
    bounds = (interval.low, interval.high) if interval else None
    if reference is None or limit is None:
        return Live(metric, "ok", n, value, bounds, detail=f"the record has no {metric}: nothing to compare with")
    if bounds is None:
        return Live(metric, "ok", n, value, None, reference, limit, detail=found.missing.get(metric, ""))
    worse = bounds[1] < limit if higher else bounds[0] > limit
    side = "below" if higher else "above"
    detail = (f"live {metric} {value:.4f} [{bounds[0]:.4f}, {bounds[1]:.4f}] on {n} labels; the record's "
              f"{reference:.4f} ± {config.degradation} tolerance puts the limit at {limit:.4f}; "
              + (f"the whole interval is {side} it" if worse else "not beyond it with confidence"))
    return Live(metric, "worse" if worse else "ok", n, value, bounds, reference, limit, detail)

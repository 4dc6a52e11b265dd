"""The production-data seam: read back what serving logged and what `mlops labels ingest` wrote.

Where the data lives is an environment's ``monitoring`` section (``mlops.core.spec.runtime.monitored_sinks``):
a directory, or an fsspec URL (``s3://…``, ``gs://…``, ``memory://…``) whose credentials come from the
process's environment (``AWS_ACCESS_KEY_ID``, ``AWS_ENDPOINT_URL``, …), never from files in git.

Verbs use only what this module exports — :class:`ProductionData` and its factory :func:`open_data`, the
shortcuts :func:`read_window`, :func:`read_labels_table`, :func:`join` and :func:`empty_window`, and the
result types — never a concrete module. One implementation serves every location, through fsspec (the local
one is a directory):

* :mod:`mlops.adapters.sinks.files` — listing a sink's log segments and labels files, reading one segment;
* :mod:`mlops.adapters.sinks.window` — the window reader (pyarrow, column projection, two passes);
* :mod:`mlops.adapters.sinks.frames` — the labels table and the join on ``(request_id, row)``.

Nothing here imports pandas, pyarrow or fsspec at import time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import numpy as np
    from pandas import DataFrame

__all__ = ["ProductionData", "SchemaReport", "Window", "empty_window", "join", "open_data", "read_labels_table",
           "read_window"]


@dataclass(frozen=True)
class SchemaReport:
    """The log's feature values against the signature's features.

    The log stores each row's features as a list in the signature's order, so a feature can only be missing
    or extra by position: a row with fewer values lacks the *last* names (``missing``), one with more has
    ``extra`` unnamed values. Such rows are left out of the window (``rows_left_out``) and reported here,
    never raised.
    """

    features: tuple[str, ...]
    widths: Mapping[int, int] = field(default_factory=dict)  # values per row → rows seen with that many
    missing: tuple[str, ...] = ()
    extra: int = 0
    rows_left_out: int = 0

    @property
    def ok(self) -> bool:
        return not self.missing and not self.extra

    def describe(self) -> str | None:
        """One line for people, or None when every row matched the signature."""
        if self.ok:
            return None
        what = []
        if self.missing:
            what.append(f"missing {', '.join(self.missing[:5])}{' …' if len(self.missing) > 5 else ''}")
        if self.extra:
            what.append(f"{self.extra} extra value(s)")
        seen = ", ".join(f"{n} row(s) with {w}" for w, n in sorted(self.widths.items()))
        return (f"{self.rows_left_out} logged row(s) do not match the signature's {len(self.features)} features "
                f"({'; '.join(what)}; seen: {seen}); they are left out")


@dataclass(frozen=True)
class Window:
    """A window of logged predictions: the last ``rows`` (or those since ``since``), then a seeded sample.

    ``features`` has one float64 column per signature feature and ``meta`` the columns ``request_id``,
    ``row``, ``timestamp`` (UTC), ``model``, ``version`` and ``prediction`` (the class label or value as
    logged); ``outputs`` is the model's raw outputs (``kept × k``). All three share row order (by time) and
    a 0…kept-1 index. ``scanned`` rows were read to find the window, ``total`` were in it before sampling,
    ``kept`` are here; ``start``/``end`` bound the window's timestamps before sampling.
    """

    features: DataFrame
    meta: DataFrame
    outputs: np.ndarray
    scanned: int
    total: int
    kept: int
    files: int
    schema: SchemaReport
    start: datetime | None = None
    end: datetime | None = None
    problems: tuple[str, ...] = ()

    def frame(self) -> DataFrame:
        """Features and meta side by side (one DataFrame, e.g. for a drift engine's ``prediction`` column)."""
        import pandas as pd

        return pd.concat([self.features, self.meta], axis=1)


class ProductionData(Protocol):
    """One sink location: prediction-log segments (``predictions-<model>-<version>-…``) and label files."""

    location: str

    def read_window(self, model: str | None, version: str | None, features: Sequence[str] | None = None, *,
                    rows: int | None = None, since: datetime | None = None, sample: int | None = None,
                    seed: int = 0) -> Window:
        """The last ``rows`` logged rows of ``model`` at ``version`` (None: every version) or those since
        ``since`` (both: the last ``rows`` since), then ``sample`` of them drawn with ``seed``."""
        ...

    def read_labels(self, model: str | None) -> DataFrame:
        """Labels of ``model``: ``request_id``, ``row``, ``label``, ``timestamp``; the latest per key."""
        ...


def open_data(location: str | Path, base: Path | None = None, **storage: Any) -> ProductionData:
    """The data at ``location``: an fsspec URL, or a directory (relative ones resolve against ``base``).
    ``storage`` goes to fsspec (e.g. ``client_kwargs``); by default credentials come from the environment."""
    from mlops.adapters.sinks.files import FsspecData

    return FsspecData(location, base, **storage)


def read_window(location: str | Path, model: str | None, version: str | None,
                features: Sequence[str] | None = None, *, rows: int | None = None, since: datetime | None = None,
                sample: int | None = None, seed: int = 0, base: Path | None = None) -> Window:
    """:meth:`ProductionData.read_window` of the data at ``location``."""
    return open_data(location, base).read_window(model, version, features, rows=rows, since=since, sample=sample,
                                                 seed=seed)


def read_labels_table(location: str | Path, model: str | None, base: Path | None = None) -> DataFrame:
    """:meth:`ProductionData.read_labels` of the label files at ``location`` (a model's label folder)."""
    return open_data(location, base).read_labels(model)


def join(window: Window, labels: DataFrame) -> DataFrame:
    """The window's rows that have a label, in window order: features, meta, ``label``, ``label_timestamp``
    and ``position`` (the row's index in the window). Keys are ``(request_id, row)``; one label per key
    (``read_labels_table`` keeps the latest)."""
    from mlops.adapters.sinks.frames import join_window

    return join_window(window, labels)


def empty_window(features: Sequence[str], problems: Sequence[str] = ()) -> Window:
    """A window without rows (nothing readable was logged): the feature columns, no values."""
    from mlops.adapters.sinks.files import empty_window as empty

    return empty(features, problems)

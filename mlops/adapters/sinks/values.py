"""Copying chosen rows of Arrow segments into the window's arrays, segment by segment, in window order.

The window reader knows for every chosen row its *slot* (its index in the window) before it reads any value,
so each array is allocated once at its final size and filled in place: a segment's table is dropped as soon
as its rows are copied, and peak memory is the window plus one segment.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:
    from pandas import DataFrame

FLOAT_LIST = pa.list_(pa.float64())


def list_matrix(column: pa.ChunkedArray, positions: np.ndarray,
                width: int | None) -> tuple[np.ndarray, np.ndarray, Counter[int]]:
    """The list values at ``positions`` as a ``len(positions) × width`` float64 matrix, which rows had
    ``width`` values (``ok``; the others are NaN), and how many chosen rows had each length. ``width``
    None: the most common length among the chosen rows."""
    arr = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
    if arr.type != FLOAT_LIST:
        arr = arr.cast(FLOAT_LIST)
    lengths = pc.list_value_length(arr).fill_null(0).to_numpy(zero_copy_only=False)
    chosen = lengths[positions]
    values, counts = np.unique(chosen, return_counts=True)
    seen = Counter({int(v): int(c) for v, c in zip(values, counts, strict=True)})
    if width is None:
        width = int(values[np.argmax(counts)]) if len(values) else 0
    ok = chosen == width
    if not ok.any() or width == 0:
        return np.full((len(positions), width), np.nan), ok, seen
    if arr.null_count == 0 and bool((lengths == width).all()):  # the common case: one copy of the chosen rows
        flat = arr.flatten().to_numpy(zero_copy_only=False).reshape(-1, width)
        if len(positions) == len(flat) and _is_range(positions):  # every row, in order: a view, no copy
            return flat.astype(np.float64, copy=False), ok, seen
        return flat[positions].astype(np.float64, copy=False), ok, seen
    matrix = np.full((len(positions), width), np.nan)
    taken = arr.take(pa.array(positions[ok]))
    matrix[ok] = taken.flatten().to_numpy(zero_copy_only=False).reshape(-1, width)
    return matrix, ok, seen


def _is_range(index: np.ndarray) -> bool:
    """``index`` is ``a, a+1, …, b`` (a slice can replace fancy indexing)."""
    return len(index) > 0 and int(index[-1]) - int(index[0]) + 1 == len(index) and bool((np.diff(index) == 1).all())


def _put(target: np.ndarray, slots: np.ndarray, values: np.ndarray, ok: np.ndarray) -> None:
    if bool(ok.all()):
        if _is_range(slots):
            target[int(slots[0]):int(slots[-1]) + 1] = values
        else:
            target[slots] = values
    else:
        target[slots[ok]] = values[ok]


class Assembler:
    """The window's arrays, filled segment by segment; rows that could not be filled are dropped at the end."""

    def __init__(self, kept: int, width: int | None) -> None:
        self.kept, self.width = kept, width
        self.outputs_width: int | None = None
        self.good = np.ones(kept, bool)
        self.features: np.ndarray | None = None
        self.outputs: np.ndarray | None = None
        self.meta: dict[str, list[tuple[np.ndarray, pa.ChunkedArray]]] = {}

    def drop(self, slots: np.ndarray) -> None:
        self.good[slots] = False

    def put_features(self, slots: np.ndarray, matrix: np.ndarray, ok: np.ndarray) -> None:
        if self.features is None:
            self.width = matrix.shape[1]
            self.features = np.empty((self.kept, self.width))
        _put(self.features, slots, matrix, ok)
        self.good[slots[~ok]] = False

    def put_outputs(self, slots: np.ndarray, matrix: np.ndarray, ok: np.ndarray) -> None:
        if self.outputs is None:
            self.outputs_width = matrix.shape[1]
            self.outputs = np.full((self.kept, self.outputs_width), np.nan)
        _put(self.outputs, slots, matrix, ok)

    def put_meta(self, slots: np.ndarray, table: pa.Table) -> None:
        for name in table.column_names:
            self.meta.setdefault(name, []).append((slots, table.column(name)))

    def _objects(self, name: str) -> np.ndarray:
        out = np.full(self.kept, None, object)
        for slots, piece in self.meta.get(name, []):
            out[slots] = piece.to_numpy(zero_copy_only=False)
        return out

    def _numbers(self, name: str, fill: Any = None) -> np.ndarray:
        """int64 or float64 when every row has a number of one kind, else Python objects."""
        pieces = self.meta.get(name, [])
        kinds = {("i" if pa.types.is_integer(p.type) else "f" if pa.types.is_floating(p.type) else "o")
                 for _, p in pieces}
        covered = sum(len(s) for s, _ in pieces) == self.kept and all(p.null_count == 0 for _, p in pieces)
        if len(kinds) != 1 or "o" in kinds or not (covered or fill is not None):
            return self._objects(name)
        out = np.full(self.kept, fill if fill is not None else 0, np.int64 if kinds == {"i"} else np.float64)
        for slots, piece in pieces:
            out[slots] = piece.fill_null(fill if fill is not None else 0).to_numpy(zero_copy_only=False)
        return out

    def _categories(self, name: str) -> Any:
        import pandas as pd

        codes = np.full(self.kept, -1, np.int32)
        categories: dict[str, int] = {}
        for slots, piece in self.meta.get(name, []):
            encoded = piece.combine_chunks().cast(pa.string()).dictionary_encode()
            mapping = np.array([categories.setdefault(v, len(categories)) for v in encoded.dictionary.to_pylist()]
                               + [-1], np.int32)
            codes[slots] = mapping[encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)]
        return pd.Categorical.from_codes(codes[self.good], categories=list(categories))

    def frames(self, names: Sequence[str], ts: np.ndarray) -> tuple[DataFrame, DataFrame, np.ndarray]:
        """(features, meta, outputs) of the rows that were filled, in window order."""
        import pandas as pd

        good = self.good
        every = bool(good.all())
        features = self.features if self.features is not None else np.empty((self.kept, len(names)))
        outputs = self.outputs if self.outputs is not None else np.empty((self.kept, 0))
        if not every:
            features, outputs = features[good], outputs[good]
        frame = pd.DataFrame(features, columns=list(names), copy=False)
        stamps = pd.Series(ts[good].astype("datetime64[ms]")).dt.tz_localize("UTC")
        meta = pd.DataFrame({"request_id": self._objects("request_id")[good],
                             "row": self._numbers("row", fill=0)[good], "timestamp": stamps,
                             "model": self._categories("model"), "version": self._categories("version"),
                             "prediction": self._numbers("prediction")[good]})
        return frame, meta, outputs

"""Small seeded windows with one column of each kind, shared by the drift tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlops.core.drift import Kind

KINDS: dict[str, Kind] = {"x": "numeric", "pix": "numeric", "cnt": "discrete", "cat": "categorical"}
# a zero-inflated pixel intensity 0..16 (like scikit-learn's digits): many ties, declared float32
PIXEL_P = np.array([430, 128, 143, 125, 106, 107, 98, 103, 76, 85, 92, 65, 57, 66, 26, 58, 32], dtype=float)
PIXEL_P /= PIXEL_P.sum()


def window(seed: int, rows: int, *, shift: float = 0.0) -> pd.DataFrame:
    """``rows`` rows: x ~ N(shift, 1), pix, cnt ~ Poisson(2), cat ∈ {a, b, c}, pred ∈ 0..9."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "x": rng.normal(shift, 1.0, rows),
        "pix": rng.choice(17, rows, p=PIXEL_P).astype(np.float32),
        "cnt": rng.poisson(2.0, rows),
        "cat": rng.choice(np.array(["a", "b", "c"], dtype=object), rows, p=[0.6, 0.3, 0.1]),
        "pred": rng.integers(0, 10, rows),
    })

"""Data quality against the training rows: schema, missing, out-of-range and unseen values are incidents."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlops.monitor.quality import Incident, check_quality

RNG = np.random.default_rng(3)
REF = pd.DataFrame({"x": RNG.normal(0, 1, 2000), "n": RNG.integers(0, 5, 2000).astype(float),
                    "z": RNG.normal(5, 2, 2000)})
KINDS = {"x": "numeric", "n": "discrete", "z": "numeric"}


def current(rows: int = 500) -> pd.DataFrame:
    return pd.DataFrame({"x": RNG.normal(0, 1, rows), "n": RNG.integers(0, 5, rows).astype(float),
                         "z": RNG.normal(5, 2, rows)})


def kinds(found: list[Incident]) -> dict[str, tuple[str, ...]]:
    return {i.kind: i.columns for i in found}


def test_clean_data_has_no_incident() -> None:
    assert check_quality(REF, current(), KINDS, None) == []


def test_a_moderate_shift_is_drift_not_a_quality_incident() -> None:
    shifted = current()
    shifted["x"] += 0.25
    assert check_quality(REF, shifted, KINDS, None) == []


def test_missing_out_of_range_and_unseen_values() -> None:
    cur = current()
    cur.loc[:9, "x"] = np.nan
    cur.loc[:49, "z"] = 1e6
    cur.loc[:4, "n"] = 9
    found = check_quality(REF, cur, KINDS, None)
    assert kinds(found) == {"missing": ("x",), "out-of-range": ("z",), "unseen": ("n",)}
    by_kind = {i.kind: i for i in found}
    assert by_kind["missing"].evidence == {"x": 10 / 500} and by_kind["out-of-range"].evidence["z"] == 50 / 500


def test_a_schema_mismatch_is_reported() -> None:
    found = check_quality(REF, current(), KINDS, "3 logged row(s) do not match the signature's 3 features", 3)
    assert kinds(found) == {"schema": ()} and found[0].evidence == {"rows": 3.0}


def test_fingerprints_are_per_environment_model_and_kind() -> None:
    a = Incident("missing", ("x",), "", {"x": 0.1})
    b = Incident("missing", ("y", "z"), "", {"y": 0.5})
    assert a.fingerprint("dev", "m") == b.fingerprint("dev", "m")  # the same incident while it persists
    assert a.fingerprint("dev", "m") != a.fingerprint("prod", "m") != Incident("unseen", (), "", {}).fingerprint(
        "dev", "m")


def test_an_empty_window_has_no_value_incidents() -> None:
    assert check_quality(REF, current(0), KINDS, None) == []

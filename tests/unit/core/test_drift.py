"""The pure arithmetic of drift testing: kinds from dtypes, Bonferroni, and merging sparse χ² cells."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mlops.core.drift import bonferroni, kinds_from_dtypes, merge_adjacent, merge_rare, min_pooled

ROOT = Path(__file__).resolve().parents[3]


def test_kinds_follow_the_spec_dtypes_in_order() -> None:
    kinds = kinds_from_dtypes({"b": "float32", "a": "int64", "flag": "bool", "x": "float64", "n": "int32"})
    assert kinds == {"b": "numeric", "a": "discrete", "flag": "categorical", "x": "numeric", "n": "discrete"}
    assert list(kinds) == ["b", "a", "flag", "x", "n"]


def test_kinds_of_the_example_models() -> None:
    for name, count in (("digits-cnn", 64), ("cancer-mlp", 30)):
        spec = yaml.safe_load((ROOT / "models" / name / "model.yaml").read_text())
        kinds = kinds_from_dtypes(spec["data"]["features"])
        assert len(kinds) == count and set(kinds.values()) == {"numeric"}


def test_unknown_dtype_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match=r"feature 'x' has dtype 'complex64'; expected one of \['bool', "):
        kinds_from_dtypes({"x": "complex64"})


def test_bonferroni() -> None:
    assert bonferroni(0.01, 65) == pytest.approx(0.01 / 65)
    assert bonferroni(0.05, 1) == 0.05
    for alpha, tests in ((0.0, 3), (1.0, 3), (0.01, 0)):
        with pytest.raises(ValueError):
            bonferroni(alpha, tests)


def test_min_pooled_gives_five_expected_in_the_smaller_sample() -> None:
    need = min_pooled(20_000, 5_000)
    assert need == pytest.approx(25.0)
    assert need * 5_000 / 25_000 == pytest.approx(5.0)  # expected count of such a cell in the current sample
    assert min_pooled(100, 100) == pytest.approx(10.0)


def test_merge_adjacent_levels() -> None:
    # pooled: 30, 2, 3, 40, 1, 1 with need 10 → [30], [2+3+40], [1+1 joins the last]
    r, c = merge_adjacent([20, 1, 2, 30, 1, 0], [10, 1, 1, 10, 0, 1], 10)
    assert (r, c) == ([20, 34], [10, 13])
    assert sum(r) == 54 and sum(c) == 23  # nothing lost


def test_merge_adjacent_all_sparse_is_one_cell() -> None:
    assert merge_adjacent([1, 1], [0, 2], 10) == ([2], [2])
    assert merge_adjacent([], [], 10) == ([], [])


def test_merge_rare_pools_the_tail_into_other() -> None:
    # sorted by pooled count: 50, 40, 12 and a tail of 3 + 2 + 1 = 6 < 10 → joins the smallest kept (12)
    r, c = merge_rare([30, 20, 6, 2, 0, 1], [20, 20, 6, 1, 2, 0], 10)
    assert (r, c) == ([30, 20, 9], [20, 20, 9])
    # a tail big enough stands as its own "other" cell
    assert merge_rare([30, 5, 5], [20, 5, 5], 10) == ([30, 5, 5], [20, 5, 5])
    assert merge_rare([30, 4, 4], [20, 4, 4], 10) == ([30, 8], [20, 8])
    # nothing reaches the need: one cell
    assert merge_rare([2, 1], [1, 2], 10) == ([3], [3])

"""Reading and checking the model's table: every data problem names the column, the CSV line and the
model.yaml position; the split is deterministic."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mlops.core import yamlpos
from mlops.core.errors import UserError
from mlops.core.spec.load import validate
from mlops.core.spec.model import ModelSpec
from mlops.train.data import Table, load_table, split_of

SPEC = """\
apiVersion: mlops/v1
kind: Model
name: toy
description: toy model
owners: [alice]
task: {task}
data:
  path: data/toy.csv
  label: label
  split: {{test: {test}, validation: 0.2, seed: 3}}
  features:
    a: float32
    b: {b_dtype}
evaluation:
  metrics: [{metric}]
serving:
  input: {{shape: [2]}}
"""


def _load(tmp_path: Path, rows: list[str], *, task: str = "classification", test: float = 0.3,
          b_dtype: str = "int64", header: str = "a,b,label") -> Table:
    text = SPEC.format(task=task, test=test, b_dtype=b_dtype,
                       metric="accuracy" if task == "classification" else "rmse")
    (tmp_path / "model.yaml").write_text(text)
    (tmp_path / "toy.csv").write_text("\n".join([header, *rows]) + "\n")
    doc = yamlpos.load(tmp_path / "model.yaml", "models/toy/model.yaml")
    return load_table(tmp_path / "toy.csv", validate(doc, ModelSpec), doc)


def _rows(n: int = 40) -> list[str]:
    return [f"{i * 0.5},{i % 7},{'yes' if i % 2 else 'no'}" for i in range(n)]


def test_a_good_table(tmp_path: Path) -> None:
    table = _load(tmp_path, _rows())
    assert table.x.dtype == np.float32 and table.x.shape == (40, 2)
    assert table.classes == ["no", "yes"] and table.n_outputs == 2
    assert set(table.y.tolist()) == {0, 1}
    assert sum(table.rows.values()) == 40 and all(table.rows.values())
    mean, std = table.standardisation()
    x_train, _ = table.part("train")
    assert np.allclose(mean, x_train.mean(axis=0)) and np.allclose(std, x_train.std(axis=0))


def test_integer_labels_sort_numerically(tmp_path: Path) -> None:
    rows = [f"{i},{i},{[10, 9, 2][i % 3]}" for i in range(30)]
    assert _load(tmp_path, rows).classes == [2, 9, 10]


def test_regression_targets_are_float(tmp_path: Path) -> None:
    table = _load(tmp_path, [f"{i},{i},{i * 0.25}" for i in range(30)], task="regression")
    assert table.classes == [] and table.n_outputs == 1 and table.y.dtype == np.float32


def _error(tmp_path: Path, rows: list[str], **kw: object) -> str:
    with pytest.raises(UserError) as exc:
        _load(tmp_path, rows, **kw)  # type: ignore[arg-type]
    assert len(exc.value.problems) == 1
    return str(exc.value.problems[0])


def test_missing_column_points_at_its_key(tmp_path: Path) -> None:
    message = _error(tmp_path, [r.rsplit(",", 2)[0] + "," + r.rsplit(",", 1)[1] for r in _rows()],
                     header="a,label")
    assert message.startswith("models/toy/model.yaml:13:5: column 'b' is not in data/toy.csv")


def test_missing_label_column(tmp_path: Path) -> None:
    message = _error(tmp_path, [r.rsplit(",", 1)[0] for r in _rows()], header="a,b")
    assert message.startswith("models/toy/model.yaml:9:10: column 'label' is not in data/toy.csv")


def test_non_numeric_value_names_column_and_line(tmp_path: Path) -> None:
    rows = _rows()
    rows[4] = "abc,1,yes"
    message = _error(tmp_path, rows)
    assert message.startswith("models/toy/model.yaml:12:8: data/toy.csv line 6: column 'a' has 'abc', "
                              "which is not a number; expected float32")


def test_fraction_in_an_integer_column(tmp_path: Path) -> None:
    rows = _rows()
    rows[2] = "1.0,2.5,no"
    assert "line 4: column 'b' has '2.5'" in _error(tmp_path, rows)


@pytest.mark.parametrize("value", ["", "nan", "NaN", "inf"])
def test_nan_or_empty_values(tmp_path: Path, value: str) -> None:
    rows = _rows()
    rows[7] = f"{value},1,yes"
    message = _error(tmp_path, rows)
    assert "data/toy.csv line 9: column 'a' is empty, NaN or infinite (1 such value(s))" in message


def test_empty_label(tmp_path: Path) -> None:
    rows = _rows()
    rows[0] = "1,1,"
    assert "line 2: label column 'label' is empty or NaN" in _error(tmp_path, rows)


def test_empty_split(tmp_path: Path) -> None:
    message = _error(tmp_path, _rows(3), test=0.05)
    assert message.startswith("models/toy/model.yaml:10:")
    assert "split of data/toy.csv is empty (3 rows" in message


def test_no_rows(tmp_path: Path) -> None:
    assert "has no rows" in _error(tmp_path, [])


def test_bool_features(tmp_path: Path) -> None:
    table = _load(tmp_path, [f"{i},{'true' if i % 2 else 'False'},x{i % 2}" for i in range(30)], b_dtype="bool")
    assert sorted(set(table.x[:, 1].tolist())) == [0.0, 1.0]
    rows = [f"{i},maybe,x{i % 2}" for i in range(30)]
    assert "has 'maybe', which is not true/false" in _error(tmp_path, rows, b_dtype="bool")


def test_split_is_deterministic_and_close_to_its_fractions() -> None:
    a = split_of(100_000, 0.2, 0.1, seed=7)
    assert np.array_equal(a, split_of(100_000, 0.2, 0.1, seed=7))
    assert not np.array_equal(a, split_of(100_000, 0.2, 0.1, seed=8))
    assert abs(np.mean(a == 2) - 0.2) < 0.01 and abs(np.mean(a == 1) - 0.1) < 0.01
    # appending rows never moves existing rows between splits
    assert np.array_equal(split_of(1000, 0.2, 0.1, 7), a[:1000])

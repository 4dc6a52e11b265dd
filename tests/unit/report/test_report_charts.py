"""Training curves as mermaid xychart-beta blocks."""

from __future__ import annotations

from mlops.report.charts import MAX_POINTS, curves, xychart


def test_xychart_syntax() -> None:
    assert xychart('a "quoted" title', {"train_loss": [1.0, 0.5], "val_loss": [1.25, 0.000123]}, "loss") == "\n".join([
        "```mermaid", "xychart-beta", "    title \"a 'quoted' title\"", '    x-axis "epoch" [1, 2]',
        '    y-axis "loss"', "    line [1, 0.5]", "    line [1.25, 0.000123]", "```"])


def test_losses_and_metrics_get_separate_charts_with_a_caption() -> None:
    blocks, notes = curves({"val_accuracy": [0.5, 0.9], "train_loss": [2.0, 1.0], "val_loss": [2.5, 1.5]}, "m v")
    assert notes == [] and len(blocks) == 4
    assert 'title "m v: loss"' in blocks[0] and blocks[0].count("    line [") == 2
    assert blocks[1] == "Lines, in order: 1. `train_loss`, 2. `val_loss`"
    assert 'y-axis "val_accuracy"' in blocks[2] and blocks[3] == "Lines, in order: 1. `val_accuracy`"


def test_non_finite_and_ragged_series_are_left_out_with_a_note() -> None:
    blocks, notes = curves({"train_loss": [1.0, float("nan")], "val_loss": [1.0, 0.5, 0.25],
                            "val_accuracy": [0.1]}, "t")
    assert notes == ["`train_loss` has non-finite values and is not drawn",
                     "`val_accuracy` has 1 points, not 3, and is not drawn"]
    assert len(blocks) == 2 and "line [1, 0.5, 0.25]" in blocks[0]


def test_long_histories_are_thinned_keeping_first_and_last_epoch() -> None:
    blocks, _ = curves({"train_loss": [float(i) for i in range(1000)]}, "t")
    axis = next(line for line in blocks[0].splitlines() if "x-axis" in line)
    epochs = axis.split("[")[1].rstrip("]").split(", ")
    assert len(epochs) == MAX_POINTS and epochs[0] == "1" and epochs[-1] == "1000"
    assert blocks[1].endswith(f"({MAX_POINTS} of 1000 epochs shown)")


def test_no_history_no_chart() -> None:
    assert curves({}, "t") == ([], [])
    assert curves({"train_loss": []}, "t") == ([], [])

"""Progress output: a bar in a terminal, one plain line per epoch in CI or a log."""

from __future__ import annotations

import io

import pytest

from mlops.train.progress import Reporter, interactive


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_ci_and_pipes_get_plain_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    assert interactive(Tty()) and not interactive(io.StringIO())
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert not interactive(Tty())
    monkeypatch.delenv("GITHUB_ACTIONS")
    monkeypatch.setenv("CI", "1")
    assert not interactive(Tty())


def test_plain_lines_once_per_epoch() -> None:
    out = io.StringIO()
    reporter = Reporter("m", stream=out)
    reporter.start_epoch(0, 2, 10, 0)
    for _ in range(10):
        reporter.step()
    reporter.end_epoch(0, {"train_loss": 0.5, "val_accuracy": 0.75})
    reporter.finish(1.25)
    assert out.getvalue().splitlines() == ["m: epoch 1: train_loss 0.5000 val_accuracy 0.7500", "m: trained in 1.2 s"]


def test_a_bar_in_a_terminal() -> None:
    out = Tty()
    reporter = Reporter("m", stream=out, bar=True)
    reporter.start_epoch(1, 3, 4, 1)  # resumed at batch 1 of 4
    for _ in range(3):
        reporter.step()
    reporter.end_epoch(1, {"train_loss": 0.25})
    text = out.getvalue()
    assert "m epoch 2/3" in text and "1/4" in text and text.endswith("m: epoch 2: train_loss 0.2500\n")


def test_quiet_prints_nothing() -> None:
    out = io.StringIO()
    reporter = Reporter("m", stream=out, quiet=True, bar=True)
    reporter.start_epoch(0, 1, 1, 0)
    reporter.step()
    reporter.end_epoch(0, {"train_loss": 1.0})
    assert out.getvalue() == ""

"""Progress: a tqdm bar in a terminal, one plain line per epoch in CI and logs (never per step)."""

from __future__ import annotations

import os
import sys
from typing import Any, TextIO


def interactive(stream: TextIO = sys.stderr) -> bool:
    """A terminal, and not CI (``CI`` or ``GITHUB_ACTIONS`` set means plain lines)."""
    if os.environ.get("CI") or os.environ.get("GITHUB_ACTIONS") == "true":
        return False
    return bool(getattr(stream, "isatty", lambda: False)())


class Reporter:
    """Receives the loop's events; the bar is updated per step only when one is shown."""

    def __init__(self, model: str, *, bar: bool | None = None, stream: TextIO = sys.stderr,
                 quiet: bool = False) -> None:
        self.model = model
        self.stream = stream
        self.quiet = quiet
        self.bar_enabled = interactive(stream) if bar is None else bar
        self._bar: Any = None

    def log(self, message: str) -> None:
        if self.quiet:
            return
        if self._bar is not None:
            self._bar.write(f"{self.model}: {message}", file=self.stream)
        else:
            print(f"{self.model}: {message}", file=self.stream, flush=True)

    def start_epoch(self, epoch: int, epochs: int, steps: int, done: int) -> None:
        if self.bar_enabled and not self.quiet:
            from tqdm import tqdm

            self._bar = tqdm(total=steps, initial=done, desc=f"{self.model} epoch {epoch + 1}/{epochs}",
                             file=self.stream, leave=False, dynamic_ncols=True)

    def step(self) -> None:
        if self._bar is not None:
            self._bar.update(1)

    def end_epoch(self, epoch: int, metrics: dict[str, float]) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        self.log(f"epoch {epoch + 1}: " + " ".join(f"{k} {v:.4f}" for k, v in metrics.items()))

    def finish(self, seconds: float) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        self.log(f"trained in {seconds:.1f} s")

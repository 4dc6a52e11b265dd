"""Training curves as mermaid ``xychart-beta`` blocks: GitHub renders them in the comment, no image anywhere.

A record's ``history`` maps a series name (``train_loss``, ``val_loss``, ``val_accuracy`` …) to one
value per epoch. Losses and the other metrics have different scales, so they get one chart each.
xychart has no legend: the caption under a chart names its lines in drawing order.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from mlops.report.escape import code, mermaid

MAX_POINTS = 100  # longer series are thinned (evenly, keeping the last epoch)


def _thin(n: int) -> list[int]:
    if n <= MAX_POINTS:
        return list(range(n))
    step = (n - 1) / (MAX_POINTS - 1)
    return sorted({round(i * step) for i in range(MAX_POINTS)})


def _num(value: float) -> str:
    text = f"{value:.4g}"
    return text if "e" not in text else f"{value:.6f}".rstrip("0").rstrip(".")


def xychart(title: str, series: Mapping[str, Sequence[float]], y_label: str) -> str:
    """One chart of equally long series, x = epoch 1…N (a mermaid code block)."""
    n = len(next(iter(series.values())))
    keep = _thin(n)
    lines = ["```mermaid", "xychart-beta", f'    title "{mermaid(title)}"',
             f'    x-axis "epoch" [{", ".join(str(i + 1) for i in keep)}]', f'    y-axis "{mermaid(y_label)}"']
    lines += [f"    line [{', '.join(_num(values[i]) for i in keep)}]" for values in series.values()]
    lines.append("```")
    return "\n".join(lines)


def curves(history: Mapping[str, Sequence[float]], title: str) -> tuple[list[str], list[str]]:
    """(markdown blocks, notes): a loss chart and a metrics chart from ``history``."""
    notes: list[str] = []
    usable: dict[str, Sequence[float]] = {}
    for name, values in history.items():
        if not values:
            continue
        if not all(math.isfinite(v) for v in values):
            notes.append(f"{code(name)} has non-finite values and is not drawn")
            continue
        usable[name] = values
    if not usable:
        return [], notes
    n = max(len(v) for v in usable.values())
    for name in [k for k, v in usable.items() if len(v) != n]:
        notes.append(f"{code(name)} has {len(usable.pop(name))} points, not {n}, and is not drawn")
    blocks: list[str] = []
    groups = (("loss", {k: v for k, v in usable.items() if "loss" in k}),
              ("metric", {k: v for k, v in usable.items() if "loss" not in k}))
    for y_label, group in groups:
        if not group:
            continue
        ordered = dict(sorted(group.items()))
        label = next(iter(ordered)) if len(ordered) == 1 else y_label
        blocks.append(xychart(f"{title}: {y_label}", ordered, label))
        blocks.append("Lines, in order: " + ", ".join(f"{i + 1}. {code(k)}" for i, k in enumerate(ordered)) +
                      (f" ({MAX_POINTS} of {n} epochs shown)" if n > MAX_POINTS else ""))
    return blocks, notes

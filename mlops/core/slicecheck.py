"""Cross-field checks of ``evaluation.slices`` and ``evaluation.slice_gates`` (what their schema cannot see):
names unique, columns and expression names among ``data.features``, gates naming metrics the model computes
and slices it defines, a gap over at least two slices."""

from __future__ import annotations

from collections.abc import Iterator

from mlops.core.errors import Problem
from mlops.core.sliceexpr import ExpressionError, names
from mlops.core.spec.model import ModelSpec
from mlops.core.yamlpos import Document

BASE = ("evaluation", "slices")
GATES = ("evaluation", "slice_gates")


def _feature(name: str, features: list[str]) -> str:
    from difflib import get_close_matches

    close = get_close_matches(name, features, n=1)
    return f"did you mean {close[0]!r}?" if close else f"expected one of data.features ({', '.join(features[:4])}, …)"


def check_slices(doc: Document, spec: ModelSpec) -> Iterator[Problem]:
    features = list(spec.data.features)
    seen: set[str] = set()
    for i, s in enumerate(spec.evaluation.slices):
        if s.name in seen:
            yield doc.problem((*BASE, i, "name"), f"slice name {s.name!r} is used twice; expected unique slice names")
        seen.add(s.name)
        if s.column is not None and s.column not in spec.data.features:
            yield doc.problem((*BASE, i, "column"), f"slice {s.name!r} reads column {s.column!r}, which is not a "
                                                    f"feature; {_feature(s.column, features)}")
        if s.where is not None:
            try:
                read = names(s.where)
            except ExpressionError as exc:  # pragma: no cover - the schema refuses it first
                yield doc.problem((*BASE, i, "where"), str(exc))
                continue
            for name, offset in dict(read).items():
                if name not in spec.data.features:
                    yield doc.problem((*BASE, i, "where"), f"slice {s.name!r}: {name!r} (at character {offset + 1} "
                                                           f"of the expression) is not a feature; "
                                                           f"{_feature(name, features)}")
    yield from _slice_gates(doc, spec, seen)


def _slice_gates(doc: Document, spec: ModelSpec, slices: set[str]) -> Iterator[Problem]:
    taken = {g.name for g in spec.evaluation.gates}
    for i, gate in enumerate(spec.evaluation.slice_gates):
        if gate.name in taken:
            yield doc.problem((*GATES, i, "name"), f"gate name {gate.name!r} is used twice (gates and slice_gates "
                                                   "share names); expected unique gate names")
        taken.add(gate.name)
        if gate.metric not in spec.evaluation.metrics:
            yield doc.problem((*GATES, i, "metric"),
                              f"slice gate {gate.name!r} names metric {gate.metric!r}, which model {spec.name!r} "
                              f"does not produce; expected one of {spec.evaluation.metrics}")
        if not slices:
            yield doc.problem((*GATES, i), f"slice gate {gate.name!r} has no slices to judge; expected "
                                           "evaluation.slices to name some")
            continue
        for j, name in enumerate(gate.slices):
            if name not in slices:
                yield doc.problem((*GATES, i, "slices", j), f"slice gate {gate.name!r} names slice {name!r}, which "
                                                            f"evaluation.slices does not define; expected one of "
                                                            f"{sorted(slices)}")
        if gate.max_gap is not None and len(set(gate.slices or slices)) < 2:
            yield doc.problem((*GATES, i, "max_gap"), f"slice gate {gate.name!r} measures a gap over fewer than two "
                                                      "slices; expected at least two")

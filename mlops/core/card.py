"""Model cards per version: the spec's intended use and limitations beside the record's facts.

One renderer, three places: inside the artifact (written by training, hashed with it: facts fixed by the inputs
only), next to the version record in the repository (``models/<m>/versions/<v>.md``, written with the record:
adds the gates of each environment as they judged the record then), and on demand (``mlops explain
MODEL@VERSION --card``: the gates now, where it runs and who approved it). Pure: it formats what it is given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mlops.core.policy import GateResult
from mlops.core.spec.model import ModelSpec
from mlops.core.spec.record import SliceMetrics, VersionRecord


@dataclass(frozen=True)
class Approval:
    """How a version reached an environment: when, by which pull request, approved by whom."""

    environment: str
    date: str
    pull: int | None
    approved_by: tuple[str, ...]


def card_path(model: str, version: str) -> str:
    """The card committed next to the version record."""
    return f"models/{model}/versions/{version}.md"


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"


def _facts(spec: ModelSpec, record: VersionRecord) -> list[str]:
    rows = " · ".join(f"{k} {v:,}" for k, v in sorted(record.data.rows.items())) or "unknown"
    env = record.environment
    return [
        "| | |", "|---|---|",
        f"| version | `{record.version}`" + (f" (parent `{record.parent}`)" if record.parent else "") + " |",
        f"| owners | {_cell(', '.join(spec.owners))} |",
        f"| task | {spec.task} |",
        f"| artifact | `{record.artifact.digest}` |",
        f"| data | `{_cell(record.data.path)}` at DVC md5 `{record.data.md5}`; rows: {rows} |",
        f"| code | commit `{record.code.commit[:12]}`{' (dirty)' if record.code.dirty else ''}, model.py "
        f"`{record.code.model_py_sha256}` |",
        f"| trained with | python {env.python}, torch {env.torch}, mlops {env.mlops}, {env.device}, seed "
        f"{record.seed} |",
    ]


def use_section(spec: ModelSpec) -> list[str]:
    """Intended use and limitations, from the spec's ``card``."""
    card = spec.card
    lines = ["## Intended use", "", card.intended_use.strip() or "_Not stated (`card.intended_use` in model.yaml)._",
             "", "## Limitations", ""]
    lines += [f"- {_cell(item)}" for item in card.limitations] or \
        ["_None stated (`card.limitations` in model.yaml): a card without limitations is incomplete._"]
    return [*lines, ""]


def _metrics(record: VersionRecord) -> list[str]:
    test = record.data.rows.get("test")
    lines = [f"## Metrics (held-out test split{f', {test:,} rows' if test else ''})", "", "| metric | value |",
             "|---|---:|", *(f"| {name} | {value:.4f} |" for name, value in sorted(record.metrics.items())), ""]
    return lines + slices_section(record.slices)


def slices_section(slices: Mapping[str, SliceMetrics | Mapping[str, object]]) -> list[str]:
    """Each metric per slice with its 95 % interval (the record's ``slices``, or the dicts training writes)."""
    if not slices:
        return []
    found = {name: s if isinstance(s, SliceMetrics) else SliceMetrics.model_validate(s) for name, s in slices.items()}
    metrics = sorted({m for s in found.values() for m in s.metrics})
    lines = ["## Metrics per slice (95 % bootstrap intervals)", "",
             "| slice | rows | " + " | ".join(metrics) + " |", "|---|---:|" + "---:|" * len(metrics)]
    for name, s in sorted(found.items()):
        cells = []
        for m in metrics:
            iv = s.intervals.get(m)
            cells.append(_num(s.metrics.get(m)) + (f" [{iv[0]:.3f}, {iv[1]:.3f}]" if iv else ""))
        lines.append(f"| {_cell(name)} | {s.rows:,} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def _gates(gates: Mapping[str, Sequence[GateResult]], when: str) -> list[str]:
    if not gates:
        return []
    lines = [f"## Gates ({when})", "", "| environment | gate | rule | result |", "|---|---|---|---|"]
    for env, results in gates.items():
        lines += [f"| {env} | {_cell(g.name)} | {_cell(g.rule)} | {'✅' if g.passed else '❌'} {_cell(g.reason)} |"
                  for g in results] or [f"| {env} | — | no gates | ✅ |"]
    return [*lines, ""]


def _approvals(approvals: Sequence[Approval] | None) -> list[str]:
    if approvals is None:
        return []
    lines = ["## How it got where it runs", ""]
    lines += [f"- **{a.environment}** {a.date}: " + (f"pull request #{a.pull}" if a.pull else "a direct commit")
              + (f", approved by {', '.join(a.approved_by)}" if a.approved_by else ", no approving review")
              for a in approvals] or ["- not pinned in any environment"]
    return [*lines, ""]


def render_card(spec: ModelSpec, record: VersionRecord, *, gates: Mapping[str, Sequence[GateResult]] | None = None,
                gates_when: str = "", approvals: Sequence[Approval] | None = None) -> str:
    """The card of ``record``; ``gates`` per environment and ``approvals`` add their sections when given."""
    lines = [f"# Model card: {spec.name} @ {record.version}", "", spec.description.strip(), "", *_facts(spec, record),
             "", *use_section(spec), *_metrics(record), *_gates(gates or {}, gates_when), *_approvals(approvals),
             "## Training", "",
             f"Params: {', '.join(f'`{k}={v}`' for k, v in sorted(record.params.items())) or 'none'}. "
             f"Training: {', '.join(f'`{k}={v}`' for k, v in sorted(record.training.items())) or 'defaults'}.",
             ""]
    return "\n".join(lines)

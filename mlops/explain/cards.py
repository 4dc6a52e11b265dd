"""The model card of a version as the repository keeps it, and as `mlops explain --card` prints it.

The committed card (``models/<m>/versions/<v>.md``) is written with the version record — by ``mlops train``
locally, and by ``mlops accept`` in the bot's commit — from the record, the spec's ``card`` and each
environment's gates as they judged the record then (against the version pinned there). The card printed on
demand judges the gates now and adds how the version reached each environment and who approved it.
"""

from __future__ import annotations

from collections.abc import Sequence

from mlops.core.atomic import write_text
from mlops.core.card import Approval, card_path, render_card
from mlops.core.policy import GateResult, gates_for, judge
from mlops.core.repo import Repository, load_records
from mlops.core.spec.record import VersionRecord

RECORDED = "when the version was recorded: each environment's gates against the version pinned there then"
NOW = "now: each environment's gates against the version pinned there"


def record_gates(repo: Repository, env: str, record: VersionRecord, baseline: str | None
                 ) -> tuple[tuple[GateResult, ...], VersionRecord | None]:
    """``env``'s gates (model, policy and slice gates) on the record's metrics, against ``baseline``'s record
    (loaded when needed); and that record, None when there is none."""
    spec = repo.require_model(record.model).spec
    if baseline:
        load_records(repo, record.model, {baseline})
    loaded = repo.records.get(record.model, {}).get(baseline or "")
    base = loaded.spec if loaded is not None else None
    gates = judge(gates_for(spec, repo.environment(env)), dict(record.metrics),
                  dict(base.metrics) if base is not None else None)
    if not spec.evaluation.slices:
        return gates, base
    from mlops.evaluate.slicing import record_slices

    return (*gates, *record_slices(spec, record, base).gates), base


def gates_by_environment(repo: Repository, record: VersionRecord) -> dict[str, tuple[GateResult, ...]]:
    """Each environment's gates on the record's metrics against the version pinned there, in promotion order."""
    found: dict[str, tuple[GateResult, ...]] = {}
    for env in repo.promotion_order() or sorted(repo.environments):
        pin = repo.environment(env).pin(record.model)
        other = pin.version if pin is not None and pin.version != record.version else None
        found[env] = record_gates(repo, env, record, other)[0]
    return found


def card(repo: Repository, record: VersionRecord, *, now: bool = False,
         approvals: Sequence[Approval] | None = None) -> str:
    """The card of ``record``: as committed with it, or (``now``) with today's gates and ``approvals``."""
    spec = repo.require_model(record.model).spec
    return render_card(spec, record, gates=gates_by_environment(repo, record), gates_when=NOW if now else RECORDED,
                       approvals=approvals)


def write_card(repo: Repository, record: VersionRecord) -> str:
    """Write the committed card next to the record (atomically); its path relative to the repository."""
    rel = card_path(record.model, record.version)
    write_text(repo.root / rel, card(repo, record))
    return rel

"""The retraining PR: a new data version with the window's labelled production rows, proposed like any change.

Branch ``mlops/retrain/<model>``, one open PR per model (updated, never duplicated). The data is the model's
current training file plus the labelled predictions of the window, schema-checked (every feature a finite
number, integers integral, the label a class the model knows or a finite value) and deduplicated (against the
file and among themselves); DVC records it (``dvc add``, ``dvc push``) and the bot commits only the new
``data.dvc`` through the forge — an attested commit, without ``[skip ci]``, so the PR workflow trains,
evaluates and reports it as it would any pull request. The checkout is left as it was.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from mlops.adapters.artifacts import ensure_data, record_data
from mlops.adapters.forge import Forge, PullRequest
from mlops.adapters.scm import open_scm
from mlops.adapters.sinks import Window, join, open_data
from mlops.core.dvcmeta import DATA_POINTER, data_version_of
from mlops.core.errors import UserError
from mlops.core.repo import Repository
from mlops.core.spec.runtime import monitored_sinks
from mlops.monitor.reference import Reference
from mlops.monitor.report import Outcome, drift_table, markdown
from mlops.report.escape import code, text

if TYPE_CHECKING:
    from pandas import DataFrame

MARK = "mlops-retrain"
LABELS = ("mlops", MARK)


@dataclass(frozen=True)
class NewRows:
    csv: str  # the rows to append, in the file's column order, without a header
    added: int
    duplicates: int
    rejected: dict[str, int]  # why → rows


def branch(model: str) -> str:
    return f"mlops/retrain/{model}"


def _format(value: float, dtype: str) -> str:
    return str(int(value)) if dtype.startswith(("int", "uint")) else repr(float(value))


def new_rows(existing: Path, ref: Reference, labelled: DataFrame) -> NewRows:
    """The labelled production rows not yet in ``existing`` (the data file), as CSV lines in its column order."""
    import pandas as pd

    spec = ref.spec.data
    names = list(spec.features)
    header = next(csv.reader(io.StringIO(existing.read_text("utf-8").split("\n", 1)[0])))
    x = labelled[names].to_numpy(dtype=np.float64) if len(labelled) else np.zeros((0, len(names)))
    labels = [str(v) for v in labelled["label"]] if len(labelled) else []
    rejected: dict[str, int] = {}
    ok: npt.NDArray[np.bool_] = np.asarray(np.isfinite(x).all(axis=1), dtype=bool)
    rejected["a feature is missing or not finite"] = int((~ok).sum())
    ints = [i for i, d in enumerate(spec.features.values()) if d.startswith(("int", "uint"))]
    if ints:
        integral = (x[:, ints] == np.round(x[:, ints])).all(axis=1)
        rejected["an integer feature has a fraction"] = int((ok & ~integral).sum())
        ok &= integral
    if ref.spec.task == "classification":
        known = {str(c) for c in ref.classes}
        good = np.asarray([v in known for v in labels], dtype=bool)
    else:
        good = np.asarray([np.isfinite(float(v)) if _number(v) else False for v in labels], dtype=bool)
    rejected["the label is not one the model knows" if ref.spec.task == "classification"
             else "the label is not a finite number"] = int((ok & ~good).sum())
    if len(good):
        ok &= good
    frame = pd.DataFrame(x[ok], columns=names)
    keep: list[bool] = [bool(k) for k in ok]
    frame[spec.label] = [v for v, k in zip(labels, keep, strict=True) if k]
    old = pd.read_csv(existing, usecols=[*names, spec.label], dtype=dict.fromkeys(names, "float64") |
                      {spec.label: str})
    key = [*names, spec.label]
    seen = set(pd.util.hash_pandas_object(old[key], index=False))
    hashes = pd.util.hash_pandas_object(frame[key], index=False)
    fresh = ~hashes.isin(seen).to_numpy() & ~hashes.duplicated().to_numpy()
    duplicates = int(len(frame) - fresh.sum())
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for _, row in frame[fresh].iterrows():
        writer.writerow([_format(row[c], spec.features[c]) if c in spec.features else
                         (row[spec.label] if c == spec.label else "") for c in header])
    return NewRows(out.getvalue(), int(fresh.sum()), duplicates, {k: v for k, v in rejected.items() if v})


def _number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def new_data_version(repo: Repository, path: str, rows: NewRows, *, push: bool = True) -> str:
    """The ``data.dvc`` text of the data with ``rows`` appended to ``path``; the checkout is restored after."""
    root = repo.root
    target, pointer = root / path, root / DATA_POINTER
    original = pointer.read_bytes()
    backup = Path(tempfile.mkdtemp(prefix="mlops-retrain-")) / target.name
    shutil.copy2(target, backup)
    try:
        data = target.read_bytes()
        tmp = target.with_name(f".{target.name}.retrain")
        tmp.write_bytes(data + (b"" if data.endswith(b"\n") else b"\n") + rows.csv.encode("utf-8"))
        os.replace(tmp, target)
        return record_data(root, path.split("/", 1)[0], push=push)
    finally:
        os.replace(backup, target)
        shutil.rmtree(backup.parent, ignore_errors=True)
        pointer.write_bytes(original)


def body(outcome: Outcome, rows: NewRows, old_md5: str, new_md5: str) -> str:
    rejected = "; ".join(f"{n} rows: {why}" for why, n in rows.rejected.items()) or "none"
    lines = [f"<!-- {MARK} {outcome.model} -->",
             f"## Retrain {code(outcome.model)}: {text(outcome.decision.reason)}",
             "",
             f"The monitor found {text(outcome.decision.reason)} for version {code(outcome.version)} in "
             f"{text(outcome.environment)}. This PR proposes a new data version: the model's training data plus "
             f"**{rows.added:,} labelled production rows** of the window ({rows.duplicates:,} duplicates left out; "
             f"rejected by the schema check: {text(rejected)}).",
             "",
             f"Data version: {code(old_md5)} → {code(new_md5)}. The PR workflow trains, evaluates and reports it "
             "like any pull request; merging it is the decision to ship the retrained model.",
             ""]
    if outcome.drift and outcome.drift.get("drifted_columns"):
        lines += [f"**Drifted columns** ({len(outcome.drift['drifted_columns'])}):", "", *drift_table(outcome.drift),
                  ""]
    return "\n".join(lines) + "\n" + markdown(outcome)


def open_retraining_pr(repo: Repository, model: str, outcome: Outcome, window: Window, ref: Reference, forge: Forge,
                       *, base: str = "main", push: bool = True,
                       say: Callable[[str], None] = print) -> PullRequest | None:
    """Open (or update) the model's retraining PR with the window's labelled rows as a new data version; None
    when there is nothing new to train on (no labelled production row that the data does not hold already)."""
    env = repo.require_environment(outcome.environment).spec
    spec = repo.require_model(model).spec
    _, labels_at = monitored_sinks(env, spec)
    labelled = join(window, open_data(labels_at, repo.root).read_labels(model))
    if not ensure_data(repo.root, spec.data.path):
        raise UserError.at(DATA_POINTER, f"{spec.data.path} is not in the checkout or DVC; expected `dvc pull`")
    rows = new_rows(repo.root / spec.data.path, ref, labelled)
    scm = open_scm(repo.root)
    old_text = (repo.root / DATA_POINTER).read_text("utf-8")
    new_text = new_data_version(repo, spec.data.path, rows, push=push) if rows.added else old_text
    old_md5, new_md5 = data_version_of(old_text), data_version_of(new_text)
    title = f"Retrain {model} on {rows.added:,} labelled production rows ({outcome.environment})"
    existing = forge.find_open_pr(branch(model), base)
    if rows.added:
        parent = existing.head_sha if existing is not None and existing.head_sha else scm.require("HEAD")
        forge.commit_files(branch(model), {scm.repo_path(DATA_POINTER): new_text.encode("utf-8")},
                           f"Retrain {model}: data {old_md5[:8]} → {new_md5[:8]} with {rows.added} labelled "
                           f"production rows\n\nMonitor: {outcome.decision.reason}\n", parent=parent,
                           reset=existing is None)
    text_body = body(outcome, rows, old_md5, new_md5)
    if existing is not None:
        pr = forge.update_pr(existing.number, title=title, body=text_body)
    elif not rows.added:
        say(f"no retraining PR: no new labelled production rows of {model} to train on ({rows.duplicates} already "
            f"in the data; labels at {labels_at}: ingest them with `mlops labels ingest`)")
        return None
    else:
        pr = forge.open_pr(branch(model), base, title, text_body)
    forge.add_labels(pr.number, LABELS)
    say(f"retraining PR #{pr.number} ({pr.url}): {rows.added} new rows, data {old_md5[:8]} → {new_md5[:8]}")
    return pr

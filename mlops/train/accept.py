"""Accept what a training job produced: verify it, store the artifact, and commit the record as the bot.

The training job runs the user's ``model.py`` with no write credentials; it hands over, as a workflow
artifact, the version record and the artifact files under their repository paths::

    models/<model>/versions/<version>.yaml
    models/<model>/versions/<version>/<file>      (program.pt2, signature.json, metrics.json, MODEL_CARD.md)

This module treats that bundle as untrusted data. It is unpacked into a temporary directory (never the
checkout); anything else in it (another path, a symlink, a pointer or ``.gitignore`` it might carry) is
refused; each record must validate, carry its own digest, sit at its path, match its artifact files byte for
byte, be new, and state exactly the inputs of the head it claims to be trained from
(:mod:`mlops.core.provenance`). Then, in separate steps so each holds only its own credential:

* :func:`store` — ``dvc add`` + ``dvc push`` of each artifact with the DVC remote of the checkout's config
  (the workflow puts the base branch's ``.dvc/config`` there): storage credentials only;
* :func:`commit` — one commit on the pull request's branch through the forge (GitHub: the App's token,
  through the API, so GitHub signs it as the App): the record, DVC's pointer and ``.gitignore``.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mlops.adapters.artifacts import default_store
from mlops.adapters.forge import Forge
from mlops.adapters.scm import Scm
from mlops.core.card import card_path
from mlops.core.errors import Problem, UserError
from mlops.core.lineage import verify_artifact
from mlops.core.provenance import input_differences
from mlops.core.repo import Loaded, Repository, record_path, record_problems
from mlops.core.spec.load import validate
from mlops.core.spec.record import VersionRecord
from mlops.core.yamlpos import parse
from mlops.explain.cards import card, write_card

_PATH = re.compile(r"^models/([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)/versions/(\d{8}-[0-9a-f]{8})"
                   r"(\.yaml|/[A-Za-z0-9][A-Za-z0-9._-]{0,127})$")
_IGNORED = re.compile(r"^models/[^/]+/versions/([^/]+\.dvc|\.gitignore)$")  # recomputed here, never taken over
MAX_FILES, MAX_BYTES = 64, 8 << 30


@dataclass(frozen=True)
class Bundle:
    model: str
    version: str
    record: VersionRecord
    text: str  # the record's YAML, as written by training
    artifact: Path  # the artifact files, in the temporary copy

    @property
    def path(self) -> str:
        return record_path(self.model, self.version)


def _refuse(where: str, message: str) -> UserError:
    return UserError(Problem(where, 1, 1, f"refusing the training output: {message}"))


def unpack(src: Path, work: Path) -> list[Bundle]:
    """Copy the allowed files of ``src`` into ``work`` and parse them; refuse anything unexpected."""
    refused, copied, total = [], 0, 0
    for item in sorted(src.rglob("*")):
        rel = item.relative_to(src).as_posix()
        if item.is_symlink() or not (item.is_file() or item.is_dir()):
            refused.append(f"{rel} (not a regular file)")
        elif item.is_dir() or _IGNORED.match(rel):
            continue
        elif not _PATH.match(rel):
            refused.append(rel)
        else:
            copied, total = copied + 1, total + item.stat().st_size
            if copied > MAX_FILES or total > MAX_BYTES:
                raise _refuse(str(src), f"more than {MAX_FILES} files or {MAX_BYTES >> 30} GiB")
            target = work / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(item, target, follow_symlinks=False)
    if refused:
        raise _refuse(str(src), "unexpected paths " + ", ".join(refused[:10]) + "; expected only "
                                "models/<model>/versions/<version>.yaml and the files of <version>/")
    bundles = []
    for record_file in sorted(work.glob("models/*/versions/*.yaml")):
        rel = record_file.relative_to(work).as_posix()
        text = record_file.read_text("utf-8")
        doc = parse(text, rel)
        record = validate(doc, VersionRecord)
        model, version = rel.split("/")[1], record_file.stem
        problems = record_problems(model, version, Loaded(doc, record))
        if problems:
            raise UserError(problems)
        artifact = record_file.with_suffix("")
        verify_artifact(artifact, record.artifact.digest, record.artifact.files, where=rel)
        bundles.append(Bundle(model, version, record, text, artifact))
    orphans = {p.parent.as_posix() for p in work.glob("models/*/versions/*/*")} - {
        b.artifact.as_posix() for b in bundles}
    if orphans or not bundles:
        raise _refuse(str(src), "no version record in it" if not bundles else
                      f"artifact files without a record: {', '.join(sorted(orphans))}")
    return bundles


def check_against_head(repo: Repository, bundles: list[Bundle]) -> None:
    """Each record is new at the head and states exactly the head's inputs for its model."""
    from mlops.core.dvcmeta import data_version

    data_md5 = data_version(repo.root)
    for bundle in bundles:
        spec = repo.require_model(bundle.model).spec
        if bundle.version in repo.records.get(bundle.model, {}):
            raise _refuse(bundle.path, f"{bundle.model}@{bundle.version} is already recorded at the head")
        code = repo.root / "models" / bundle.model / spec.code
        model_py = "sha256:" + hashlib.sha256(code.read_bytes()).hexdigest() if code.is_file() else ""
        differ = input_differences(bundle.record, spec, model_py, data_md5)
        if differ:
            raise _refuse(bundle.path, f"it was not trained from the head's inputs ({', '.join(differ)} differ)")


def store(repo: Repository, bundles: list[Bundle], *, push: bool = True) -> list[str]:
    """``dvc add`` (+ ``dvc push``) each artifact into the checkout's DVC remote; returns the URIs."""
    uris = []
    for bundle in bundles:
        if (repo.root / f"{bundle.path[:-5]}.dvc").is_file():
            uris.append(bundle.record.artifact.uri)  # stored by an earlier attempt of this step
            continue
        with tempfile.TemporaryDirectory(prefix="mlops-store-") as tmp:
            staged = Path(tmp) / bundle.version
            shutil.copytree(bundle.artifact, staged)
            uris.append(default_store(repo.root, push=push).put(bundle.model, bundle.version, staged))
    return uris


def commit(repo: Repository, scm: Scm, forge: Forge, bundles: list[Bundle], *, branch: str, head: str) -> str:
    """One commit on ``branch`` (whose tip must still be ``head``) with the records, their model cards (written
    here from the verified records, never taken from the training output), pointers and .gitignore."""
    files: dict[str, bytes | None] = {}
    for bundle in bundles:
        pointer = repo.root / f"{bundle.path[:-5]}.dvc"
        if not pointer.is_file():
            raise _refuse(bundle.path, f"no DVC pointer {bundle.path[:-5]}.dvc in the checkout; expected the "
                                       "store step (`mlops accept --store`) to have run first")
        ignore = pointer.parent / ".gitignore"
        files[scm.repo_path(bundle.path)] = bundle.text.encode("utf-8")
        files[scm.repo_path(card_path(bundle.model, bundle.version))] = card(repo, bundle.record).encode("utf-8")
        files[scm.repo_path(repo.rel(pointer))] = pointer.read_bytes()
        if ignore.is_file():
            files[scm.repo_path(repo.rel(ignore))] = ignore.read_bytes()
    names = ", ".join(f"{b.model}@{b.version}" for b in bundles)
    return forge.commit_files(branch, files, f"mlops: version records {names}\n\nTrained from {head}.",
                              parent=head)


def place(repo: Repository, bundles: list[Bundle]) -> list[str]:
    """Put the verified records and artifacts into the checkout, to evaluate them here (nothing is committed)."""
    from mlops.train.record import write_once

    placed = []
    for bundle in bundles:
        target = repo.root / bundle.path[:-5]
        if not target.exists():
            shutil.copytree(bundle.artifact, target)
        write_once(repo.root / bundle.path, bundle.text, bundle.path)
        write_card(repo, bundle.record)  # written by the framework from the verified record, never copied in
        placed.append(bundle.path)
    return placed

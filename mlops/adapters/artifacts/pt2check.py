"""Refuse a ``program.pt2`` that could run code when ``torch.export.load`` reads it.

Reading torch 2.13's loader (``torch/export/pt2_archive/_package.py`` and
``torch/_export/serde/serialize.py``) shows four ways a crafted archive gets code executed:

* payloads flagged ``use_pickle`` are read with ``torch.load(weights_only=False)``, custom objects
  with ``torch._C._pickle_load_obj`` and opaque objects with ``pickle.loads``;
* sample inputs are read with ``weights_only=True`` but *fall back* to ``weights_only=False``;
* a node ``target`` is resolved by ``getattr`` from the ``torch``, ``operator`` or ``math`` modules
  (``torch.os.system`` resolves), then called when the program runs;
* symbolic shape expressions go through ``sympy.sympify``, which ``eval``s its string.

Our exporter never produces any of these, so this module checks, with ``zipfile`` and ``json`` only
(nothing is unpickled), that an archive holds exactly the entries we write: raw tensor payloads,
sample inputs that load with ``weights_only=True``, ``torch.ops.aten``/``prims`` operators and a few
arithmetic operators, and shape expressions made of symbols, integers and sympy's arithmetic.
It runs after the digest check, as a second wall.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

MAX_ENTRIES = 10_000
_ENTRY = re.compile(
    r"^(?:archive_format|archive_version|byteorder|\.data/version|\.data/serialization_id|models/model\.json"
    r"|data/weights/model_weights_config\.json|data/weights/weight_\d+"
    r"|data/constants/model_constants_config\.json|data/constants/tensor_\d+|data/sample_inputs/model\.pt)$"
)
_OP_TARGET = re.compile(r"^torch\.ops\.(?:aten|prims)\.[a-z0-9_]+\.[a-zA-Z0-9_]+$")
_SAFE_TARGETS = frozenset(
    {f"_operator.{n}" for n in ("getitem", "add", "sub", "mul", "floordiv", "truediv", "mod", "neg", "pow",
                                "eq", "ne", "lt", "le", "gt", "ge", "and_", "or_", "not_")}
    | {f"math.{n}" for n in ("ceil", "floor", "trunc", "sqrt")}
    | {f"torch.{n}" for n in ("sym_float", "sym_int", "sym_max", "sym_min", "sym_not", "sym_sqrt", "sym_ite",
                              "sym_sum", "_sym_sqrt")}
)
_SYMBOL = re.compile(r"Symbol\('[a-z]+\d+'(?:, (?:positive|integer|real|nonnegative)=(?:True|False))*\)")
_EXPR_CHARS = re.compile(r"^[A-Za-z0-9_ +\-*/(),<>=]*$")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SAFE_IDENT = re.compile(r"^(?:[a-z]+\d+|S|[A-Z][A-Za-z]{1,40}|oo|zoo|nan|True|False)$")
_PICKLE_PREFIXES = ("custom_obj_", "opaque_obj_")


class UnsafeArchive(ValueError):
    """The archive holds something our exporter never writes; loading it could run code."""


def _walk(node: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _check_expr(expr: str) -> None:
    rest = _SYMBOL.sub("s0", expr)
    if "__" in rest or not _EXPR_CHARS.match(rest):
        raise UnsafeArchive(f"shape expression {expr[:80]!r} contains characters a symbolic shape never has")
    for ident in _IDENT.findall(rest):
        if not _SAFE_IDENT.match(ident):
            raise UnsafeArchive(f"shape expression {expr[:80]!r} names {ident!r}, which is not a shape symbol")


def _check_program(program: Any) -> None:
    for key, value in _walk(program):
        if key == "target" and isinstance(value, str):
            if not (_OP_TARGET.match(value) or value in _SAFE_TARGETS):
                raise UnsafeArchive(f"operator {value[:80]!r} is not an ATen/prims operator")
        elif key == "expr_str" and isinstance(value, str):
            _check_expr(value)
        elif key == "custom_obj_values" and value:
            raise UnsafeArchive("the program holds custom (pickled) objects")
    for symbol in (program.get("range_constraints") or {}):
        _check_expr(str(symbol))


def _check_payloads(config: Any, what: str) -> None:
    entries = config.get("config") if isinstance(config, dict) else None
    if not isinstance(entries, dict):
        raise UnsafeArchive(f"{what} config is malformed")
    for fqn, meta in entries.items():
        if not isinstance(meta, dict) or meta.get("use_pickle") is not False:
            raise UnsafeArchive(f"{what} {fqn!r} is stored as a pickle")
        if str(meta.get("path_name", "")).startswith(_PICKLE_PREFIXES):
            raise UnsafeArchive(f"{what} {fqn!r} is a pickled object")


def check_pt2(source: Path | bytes) -> None:
    """Raise :class:`UnsafeArchive` unless ``source`` is a plain program as our exporter writes it."""
    import torch

    try:
        zf = zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source)
    except (OSError, zipfile.BadZipFile) as exc:
        raise UnsafeArchive(f"not a PT2 archive: {exc}") from None
    with zf:
        names = [i.filename for i in zf.infolist() if not i.is_dir()]
        if not names or len(names) > MAX_ENTRIES:
            raise UnsafeArchive("empty or oversized archive")
        prefix = names[0].split("/", 1)[0] + "/"
        for name in names:
            if not name.startswith(prefix) or not _ENTRY.match(name[len(prefix):]):
                raise UnsafeArchive(f"unexpected archive entry {name[:120]!r}")

        def read_json(rel: str) -> Any:
            try:
                return json.loads(zf.read(prefix + rel))
            except (KeyError, ValueError) as exc:
                raise UnsafeArchive(f"{rel}: {exc}") from None

        _check_program(read_json("models/model.json"))
        _check_payloads(read_json("data/weights/model_weights_config.json"), "weight")
        _check_payloads(read_json("data/constants/model_constants_config.json"), "constant")
        sample = prefix + "data/sample_inputs/model.pt"
        if sample in names:
            try:  # torch.export.load falls back to weights_only=False when this fails: refuse instead
                torch.load(io.BytesIO(zf.read(sample)), weights_only=True)
            except Exception as exc:
                raise UnsafeArchive(f"sample inputs do not load with weights_only=True: {exc}") from None

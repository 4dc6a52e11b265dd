"""Import the user's ``model.py`` by path and call its contract: ``build(params, n_features, n_outputs)``.

The module is imported under a fixed name (``mlops_user_model.<name>``), never from ``sys.path``,
so the exported program's metadata does not depend on where the repository is checked out.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

from torch import nn

from mlops.core.errors import Problem, UserError

PACKAGE = "mlops_user_model"


def module_name(model: str) -> str:
    return f"{PACKAGE}.{model.replace('-', '_')}"


def load_module(model: str, path: Path, where: str) -> Any:
    name = module_name(model)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UserError(Problem(where, 1, 1, f"cannot import {path.name}; expected a Python file"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling-free introspection look modules up by name
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(name, None)
        raise UserError(Problem(where, 1, 1, f"importing the model code failed: {type(exc).__name__}: {exc}")) from exc
    return module


def build(model: str, path: Path, params: dict[str, Any], n_features: int, n_outputs: int, where: str) -> nn.Module:
    """``build(params, n_features, n_outputs)`` from ``path``; it must return a ``torch.nn.Module``."""
    module = load_module(model, path, where)
    fn = getattr(module, "build", None)
    if not callable(fn):
        raise UserError(Problem(where, 1, 1, "missing function build(params, n_features, n_outputs)"))
    try:
        net = fn(dict(params), n_features, n_outputs)
    except Exception as exc:
        raise UserError(Problem(where, 1, 1, f"build(params, {n_features}, {n_outputs}) raised "
                                             f"{type(exc).__name__}: {exc}")) from exc
    if not isinstance(net, nn.Module):
        raise UserError(Problem(where, 1, 1, f"build() returned {type(net).__name__}; expected a torch.nn.Module"))
    return net

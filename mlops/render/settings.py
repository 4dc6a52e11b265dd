"""Effective serving settings of a model in an environment.

Three layers, later wins: the model spec's ``serving`` → the environment's ``defaults`` → the
environment's ``overrides[model]``. Only the fields a layer actually writes count (pydantic's
``model_fields_set``), so ``overrides: {m: {resources: {gpu: 1}}}`` keeps the cpu and memory of the
layers below. Per field:

- ``replicas``, ``resources``: merged field by field (min/max/target, cpu/memory/gpu);
- ``node_selector``: merged key by key; ``gpu_node_selector`` is added only for GPU models;
- ``tolerations``, ``gpu_node_selector``, ``runtime_class_name``: the last layer that sets them wins.

A model is a GPU model when its effective ``resources.gpu`` is above 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from mlops.core.errors import UserError
from mlops.core.repo import Loaded
from mlops.core.spec.environment import Environment, Placement
from mlops.core.spec.model import ModelSpec, Replicas, Resources


@dataclass(frozen=True)
class Effective:
    replicas: Replicas
    resources: Resources
    base_node_selector: dict[str, str]  # without the GPU node selector
    gpu_node_selector: dict[str, str]
    tolerations: list[dict[str, str]]
    runtime_class_name: str | None

    @property
    def gpu(self) -> int:
        return self.resources.gpu

    @property
    def node_selector(self) -> dict[str, str]:
        """The pod's nodeSelector: the GPU node selector merged in for GPU models."""
        merged = {**self.base_node_selector, **(self.gpu_node_selector if self.gpu else {})}
        return dict(sorted(merged.items()))

    def k8s_resources(self) -> dict[str, dict[str, Any]]:
        """The container's ``resources``: requests = limits for cpu and memory (Guaranteed QoS)."""
        base = {"cpu": self.resources.cpu, "memory": self.resources.memory}
        limits: dict[str, Any] = dict(base)
        if self.gpu:
            limits["nvidia.com/gpu"] = str(self.gpu)
        return {"requests": base, "limits": limits}


def _set_fields(model: BaseModel | None) -> dict[str, Any]:
    if model is None:
        return {}
    return {name: getattr(model, name) for name in model.model_fields_set}


def effective(spec: ModelSpec, env: Loaded[Environment]) -> Effective:
    """Merge the three layers for ``spec`` in ``env``; an impossible result is a :class:`UserError` at the env file."""
    environment = env.spec
    layers: list[tuple[tuple[str, ...], Placement]] = [(("defaults",), environment.defaults)]
    override = environment.overrides.get(spec.name)
    if override is not None:
        layers.append((("overrides", spec.name), override))
    replicas = spec.serving.replicas.model_dump()
    resources = spec.serving.resources.model_dump()
    node_selector: dict[str, str] = {}
    gpu_node_selector = environment.defaults.gpu_node_selector
    tolerations = list(environment.defaults.tolerations)
    runtime_class = environment.defaults.runtime_class_name
    where: tuple[str, ...] = ("defaults",)
    for loc, layer in layers:
        fields = _set_fields(layer)
        if "replicas" in fields:
            replicas.update(_set_fields(layer.replicas))
            where = loc
        if "resources" in fields:
            resources.update(_set_fields(layer.resources))
        node_selector.update(fields.get("node_selector", {}))
        gpu_node_selector = fields.get("gpu_node_selector", gpu_node_selector)
        tolerations = list(fields.get("tolerations", tolerations))
        runtime_class = fields.get("runtime_class_name", runtime_class)
    try:
        merged_replicas = Replicas.model_validate(replicas)
    except ValidationError as exc:
        message = exc.errors()[0]["msg"].removeprefix("Value error, ")
        raise UserError(env.doc.problem((*where, "replicas"), f"effective replicas of model {spec.name!r}: "
                                        f"{message} (model spec, then defaults, then overrides)")) from None
    return Effective(
        replicas=merged_replicas,
        resources=Resources.model_validate(resources),
        base_node_selector=dict(sorted(node_selector.items())),
        gpu_node_selector=dict(sorted(gpu_node_selector.items())),
        tolerations=[t.model_dump(exclude_none=True) for t in tolerations],
        runtime_class_name=runtime_class,
    )

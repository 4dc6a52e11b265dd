"""``environments/<env>.yaml``: where models run, under which rules, and which version of each (the pins)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from mlops.core.spec.model import Gate, Replicas, Resources
from mlops.core.spec.types import DnsLabel, FieldError, K8sVersion, Owner, Sha256, Strict, VersionId


class Kubernetes(Strict):
    version: K8sVersion = "1.31"
    namespace: DnsLabel
    context: str | None = Field(None, description="kubeconfig context used by `mlops deploy`")


class Toleration(Strict):
    key: str
    operator: Literal["Exists", "Equal"] = "Equal"
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None


class Placement(Strict):
    """Per-environment serving settings: environment defaults, overridable per model."""

    replicas: Replicas | None = None
    resources: Resources | None = None
    node_selector: dict[str, str] = Field(default_factory=dict)
    gpu_node_selector: dict[str, str] = Field(
        default_factory=lambda: {"nvidia.com/gpu.present": "true"}, description="added for models that use GPUs"
    )
    tolerations: list[Toleration] = Field(default_factory=list)
    runtime_class_name: str | None = None


class Local(Strict):
    port: int = Field(8080, gt=1023, lt=65536)


class Policy(Strict):
    gates: list[Gate] = Field(default_factory=list, description="gates every version pinned here must pass")
    auto_merge_rollback: bool = False


class Pin(Strict):
    version: VersionId
    image: Sha256 | None = Field(None, description="image digest from `mlops build-image`, when built")


class Environment(Strict):
    apiVersion: Literal["mlops/v1"] = "mlops/v1"  # the YAML key
    kind: Literal["Environment"] = "Environment"
    name: DnsLabel
    description: str = ""
    target: Literal["kubernetes", "local"]
    kubernetes: Kubernetes | None = None
    local: Local = Local()
    registry: str = Field("localhost:5000/mlops", min_length=1)
    promoted_from: DnsLabel | None = None
    approvers: list[Owner] = Field(default_factory=list)
    defaults: Placement = Placement()
    overrides: dict[DnsLabel, Placement] = Field(default_factory=dict)
    policy: Policy = Policy()
    pins: dict[DnsLabel, VersionId | Pin] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _target(self) -> Environment:
        if self.target == "kubernetes" and self.kubernetes is None:
            raise FieldError("target", "target 'kubernetes' needs a 'kubernetes' section; expected "
                             "kubernetes: {version: \"1.31\", namespace: NAME}")
        return self

    def pin(self, model: str) -> Pin | None:
        value = self.pins.get(model)
        if value is None or isinstance(value, Pin):
            return value
        return Pin(version=value)

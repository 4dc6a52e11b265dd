"""``environments/<env>.yaml``: where models run, under which rules, and which version of each (the pins)."""

from __future__ import annotations

from typing import Annotated, Literal

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


Port = Annotated[int, Field(gt=1023, lt=65536)]


class Local(Strict):
    port: Port = 8080
    ports: dict[DnsLabel, Port] = Field(default_factory=dict, description="model → its stable local port")


class Policy(Strict):
    gates: list[Gate] = Field(default_factory=list, description="gates every version pinned here must pass")
    auto_merge: bool = Field(False, description="promotion PRs into this environment merge themselves when every "
                                                "gate passes with confidence (never in production)")
    confidence_margin: float = Field(0.0, ge=0, description="how far the 95 % bound must clear a gate to auto-merge")
    auto_merge_rollback: bool = False


class RolloutStep(Strict):
    weight: int = Field(gt=0, le=100, description="share of replicas (percent) on the new version")
    pause_s: int = Field(0, ge=0, description="how long to hold this step while the analysis runs")


class Rollout(Strict):
    """Progressive delivery through Argo Rollouts: steps, and what the analysis (Prometheus) may tolerate."""

    steps: list[RolloutStep] = Field(min_length=1)
    max_error_ratio: float = Field(0.01, ge=0, le=1, description="5xx answers / all answers of the new version")
    max_p99_ms: float = Field(250.0, gt=0, description="p99 request latency of the new version")
    interval_s: int = Field(60, gt=0, description="how often the analysis measures")
    failure_limit: int = Field(1, ge=0, description="failed measurements tolerated before the rollout aborts")
    prometheus_url: str = Field("http://prometheus-operated.monitoring.svc:9090", pattern=r"^https?://[^\s\"]+$",
                                description="the Prometheus the analysis queries (in-cluster address)")

    @model_validator(mode="after")
    def _increasing(self) -> Rollout:
        weights = [s.weight for s in self.steps]
        if weights != sorted(weights) or len(set(weights)) != len(weights):
            raise FieldError("steps", f"weights {weights} must increase step by step; expected e.g. 10, 50, 100")
        return self


class GitOps(Strict):
    """Pull mode: where the rendered manifests are committed, and the engine that syncs them."""

    engine: Literal["argocd", "flux"] = "argocd"
    path: str = Field("deploy", pattern=r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$",
                      description="directory of the repository; each environment's manifests go to <path>/<env>/")
    repo_url: str | None = Field(None, description="the repository the engine pulls (default: this repository)")
    revision: str = Field("mlops/manifests", description="the branch the manifests are committed to and the "
                          "engine syncs (a branch only the bot writes, outside the default branch's ruleset)")
    namespace: DnsLabel | None = Field(None, description="the engine's namespace (argocd / flux-system)")


class Delivery(Strict):
    """How a merged pin change reaches the environment."""

    mode: Literal["local", "push", "pull"] = Field(
        "local", description="local: `mlops serve` processes on this machine; push: `mlops deploy` applies with "
                             "the Kubernetes API; pull: Argo CD or Flux syncs committed manifests")
    timeout_s: int = Field(600, gt=0, description="how long a rollout may take before it counts as failed")
    smoke: bool = Field(True, description="after deploying: ready, then one inference with a sample")
    gitops: GitOps = GitOps()
    rollout: Rollout | None = None


class Pin(Strict):
    version: VersionId
    image: Sha256 | None = Field(None, description="image digest from `mlops build-image`, when built")


class EnvMonitoring(Strict):
    """Where this environment's production data lives, and what the monitor reads besides it."""

    predictions: str = Field(".mlops/predictions", description="where serving writes its prediction log: a "
                                                               "directory (local) or an fsspec URL (s3://…, gs://…)")
    labels: str = Field(".mlops/labels", description="where `mlops labels ingest` writes delayed labels (same forms)")
    credentials_secret: DnsLabel | None = Field(
        None, description="Kubernetes Secret whose keys the serving pods get as environment variables (the sink's "
                          "credentials, e.g. AWS_ACCESS_KEY_ID); never credentials in this file")
    prometheus_url: str | None = Field(None, description="Prometheus that scrapes this environment's serving pods; "
                                                         "the monitor reads infrastructure and traffic from it")
    price_per_replica_hour: float | None = Field(None, ge=0, description="what one serving replica costs per hour "
                                                                         "(for cost per 1,000 predictions)")
    state_branch: str = Field("mlops/monitor", description="branch where the bot keeps the monitor's history "
                                                           "(auditable in git, written compare-and-swap)")


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
    delivery: Delivery = Delivery()
    monitoring: EnvMonitoring = EnvMonitoring()
    production: bool | None = Field(None, description="serves real traffic (default: the environment named prod); "
                                                      "promotions into it never merge themselves")
    pins: dict[DnsLabel, VersionId | Pin] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _target(self) -> Environment:
        if self.target == "kubernetes" and self.kubernetes is None:
            raise FieldError("target", "target 'kubernetes' needs a 'kubernetes' section; expected "
                             "kubernetes: {version: \"1.31\", namespace: NAME}")
        if self.delivery.mode != "local" and self.target != "kubernetes":
            raise FieldError("delivery", f"delivery mode {self.delivery.mode!r} needs target 'kubernetes'; "
                             "expected mode 'local' for a local environment")
        if self.delivery.rollout is not None and self.delivery.mode == "local":
            raise FieldError("delivery", "a rollout (Argo Rollouts) needs delivery mode 'push' or 'pull'")
        if self.policy.auto_merge and self.is_production:
            raise FieldError("policy", "auto_merge is refused in production: promotions into it need its approvers")
        return self

    @property
    def is_production(self) -> bool:
        return self.name == "prod" if self.production is None else self.production

    def pin(self, model: str) -> Pin | None:
        value = self.pins.get(model)
        if value is None or isinstance(value, Pin):
            return value
        return Pin(version=value)

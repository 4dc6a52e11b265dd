"""``models/<name>/model.yaml``: what to train, and how to serve and monitor it."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from mlops.core.spec.card import Card
from mlops.core.spec.types import Cron, DnsLabel, FieldError, Owner, Quantity, RelativePy, SliceExpression, Strict

Dtype = Literal["float32", "float64", "int32", "int64", "bool"]
Datatype = Literal["FP32", "FP64", "INT32", "INT64", "BOOL"]
Metric = Literal["accuracy", "macro_f1", "log_loss", "rmse", "mae", "r2"]
CLASSIFICATION_METRICS: frozenset[str] = frozenset({"accuracy", "macro_f1", "log_loss"})
REGRESSION_METRICS: frozenset[str] = frozenset({"rmse", "mae", "r2"})
HIGHER_IS_BETTER: frozenset[str] = frozenset({"accuracy", "macro_f1", "r2"})
Scalar = bool | int | float | str


class Split(Strict):
    """Deterministic split of the rows by a seeded hash: fractions of the whole file."""

    test: float = Field(0.2, gt=0, lt=1)
    validation: float = Field(0.1, ge=0, lt=1)
    seed: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _fractions(self) -> Split:
        if self.test + self.validation >= 1:
            raise FieldError("test", f"test + validation ({self.test} + {self.validation}) must leave rows for "
                             "training; expected a sum below 1")
        return self


class Data(Strict):
    path: str = Field(description="CSV file inside the DVC-tracked data/ tree, e.g. data/digits/digits.csv")
    features: dict[str, Dtype] = Field(min_length=1, description="feature columns in model input order → dtype")
    label: str
    split: Split = Split()
    normalize: Literal["standard", "none"] = Field(
        "standard", description="standardise features with the training split's mean/std, baked into the artifact"
    )

    @model_validator(mode="after")
    def _paths(self) -> Data:
        parts = self.path.split("/")
        if parts[0] != "data" or len(parts) < 2 or ".." in parts or "" in parts:
            raise FieldError("path", f"{self.path!r} is not a relative path inside data/; expected e.g. "
                             "'data/x/y.csv'")
        return self


class Optimizer(Strict):
    name: Literal["adam", "adamw", "sgd"] = "adamw"
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    momentum: float = Field(0.0, ge=0, lt=1)


class Checkpoint(Strict):
    every: int = Field(1, gt=0)
    unit: Literal["epoch", "step"] = "epoch"


class Training(Strict):
    epochs: int = Field(10, gt=0)
    batch_size: int = Field(64, gt=0)
    seed: int = Field(0, ge=0)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    compile: bool = False
    optimizer: Optimizer = Optimizer()
    checkpoint: Checkpoint = Checkpoint()
    runner: list[str] = Field(default_factory=lambda: ["self-hosted", "gpu"], min_length=1)
    timeout_minutes: int = Field(60, gt=0, le=4320)
    gpus: int = Field(0, ge=0, le=64)
    nodes: int = Field(1, ge=1, le=64, description="nodes of a kubernetes training Job")
    backend: Literal["local", "kubernetes"] = "local"


class Gate(Strict):
    """A rule a version must pass: absolute bounds and/or a maximum regression against the pinned version."""

    name: DnsLabel
    metric: Metric
    min: float | None = None
    max: float | None = None
    max_regression: float | None = Field(None, ge=0, description="allowed worsening vs the pinned version")
    judge: Literal["point", "bound"] = Field(
        "point", description="point: the measured value decides; bound: the pessimistic end of its 95 % interval "
                             "(paired bootstrap on the test rows) must clear the rule")

    @model_validator(mode="after")
    def _one_rule(self) -> Gate:
        if self.min is None and self.max is None and self.max_regression is None:
            raise ValueError(f"gate {self.name!r} sets no rule; expected min, max or max_regression")
        return self


class Slice(Strict):
    """A named subset of the test rows: a column's ``values``, a ``range`` [lo, hi) of it, or a ``where``
    expression over the features (see :mod:`mlops.core.sliceexpr`)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, ser_json_inf_nan="constants")  # .inf ends

    name: DnsLabel
    column: str | None = Field(None, description="the feature column of values or range")
    values: list[float | bool] | None = Field(None, min_length=1, description="rows whose column is one of these")
    range: list[float] | None = Field(None, min_length=2, max_length=2, description="[lo, hi]: rows with lo ≤ "
                                      "column < hi (.inf or -.inf for an open end)")
    where: SliceExpression | None = Field(None, description="a condition over feature names, e.g. "
                                          "'mean_radius >= 15 and mean_texture < 20'")

    @model_validator(mode="after")
    def _one_kind(self) -> Slice:
        kinds = [k for k in ("values", "range", "where") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(f"slice {self.name!r} sets {' and '.join(kinds) or 'no rule'}; expected exactly one "
                             "of values or range (with column), or where")
        if self.where is not None and self.column is not None:
            raise FieldError("column", f"slice {self.name!r} has a where expression, which names its own columns; "
                             "expected no column")
        if self.where is None and self.column is None:
            raise ValueError(f"slice {self.name!r} sets {kinds[0]} but no column; expected column: <a feature>")
        if self.range is not None:
            low, high = self.range
            if math.isnan(low) or math.isnan(high) or not low < high:
                raise FieldError("range", f"range [{low:g}, {high:g}] is empty; expected [lo, hi] with lo < hi")
        return self


class SliceGate(Strict):
    """A rule over slices: every slice's metric at least ``min_per_slice`` (or at most ``max_per_slice``), or
    the gap between the best and the worst slice at most ``max_gap``. Exactly one rule per gate."""

    name: DnsLabel
    metric: Metric
    min_per_slice: float | None = None
    max_per_slice: float | None = None
    max_gap: float | None = Field(None, ge=0, description="largest allowed best − worst difference between slices")
    slices: list[DnsLabel] = Field(default_factory=list, description="the slices it judges (default: all)")
    min_rows: int = Field(20, ge=1, description="a slice with fewer test rows is not judged, and the gate says so")
    judge: Literal["point", "bound"] = Field(
        "point", description="point: the measured values decide; bound: the pessimistic end of the 95 % "
                             "interval of the worst slice's value (or of the gap) must clear the rule")

    @model_validator(mode="after")
    def _one_rule(self) -> SliceGate:
        rules = [r for r in ("min_per_slice", "max_per_slice", "max_gap") if getattr(self, r) is not None]
        if len(rules) != 1:
            raise ValueError(f"slice gate {self.name!r} sets {' and '.join(rules) or 'no rule'}; expected exactly "
                             "one of min_per_slice, max_per_slice or max_gap (write a gate per rule)")
        return self


class Evaluation(Strict):
    metrics: list[Metric] = Field(min_length=1)
    gates: list[Gate] = Field(default_factory=list)
    slices: list[Slice] = Field(default_factory=list, description="named subsets of the test rows: each metric "
                                "is also measured per slice, with a bootstrap interval, into the version record")
    slice_gates: list[SliceGate] = Field(default_factory=list, description="rules over the slices: a bound every "
                                         "slice must meet, or the largest gap between the best and worst slice")


class TensorSpec(Strict):
    name: str = "input"
    datatype: Datatype = "FP32"
    shape: list[int] = Field(min_length=1, description="shape of one sample, e.g. [64]")

    @model_validator(mode="after")
    def _shape(self) -> TensorSpec:
        if any(d <= 0 for d in self.shape):
            raise FieldError("shape", f"shape {self.shape} has a dimension ≤ 0; expected positive dimensions")
        return self

    @property
    def size(self) -> int:
        return math.prod(self.shape)


class Batching(Strict):
    max_batch_size: int = Field(32, gt=0, le=4096)
    max_latency_ms: float = Field(5.0, gt=0, le=10_000)
    max_queue: int = Field(256, gt=0, description="admitted requests waiting; beyond this → 429")


class Resources(Strict):
    cpu: Quantity = "500m"
    memory: Quantity = "512Mi"
    gpu: int = Field(0, ge=0, le=16)


class Replicas(Strict):
    min: int = Field(1, ge=0)
    max: int = Field(3, ge=1)
    target_cpu_utilization: int = Field(70, gt=0, le=100)

    @model_validator(mode="after")
    def _order(self) -> Replicas:
        if self.min > self.max:
            raise FieldError("min", f"min ({self.min}) is larger than max ({self.max}); expected min ≤ max")
        return self


class PredictionLog(Strict):
    sample_rate: float = Field(0.1, ge=0, le=1)
    sink: str = Field(".mlops/predictions", description="a local directory or an fsspec URL")
    format: Literal["jsonl", "parquet"] = "jsonl"


class Serving(Strict):
    input: TensorSpec
    batching: Batching = Batching()
    resources: Resources = Resources()
    replicas: Replicas = Replicas()
    prediction_log: PredictionLog = PredictionLog()


class Drift(Strict):
    """How sure a drift verdict must be. Each column gets the test valid for its kind (KS for numbers, χ² or
    Fisher for levels and categories) at a Bonferroni-corrected level, so that over runs on unchanged data
    at most ``alpha`` of them report drift in any column (see ``mlops.adapters.drift``)."""

    alpha: float = Field(0.005, gt=0, le=0.05, description="family-wise false-alarm rate per run, over every "
                                                           "monitored column and the prediction")


class Performance(Strict):
    metric: Metric
    degradation: float = Field(0.05, ge=0, description="allowed absolute worsening against the record's metric")
    min_labels: int = Field(100, gt=0, description="labelled predictions needed before live performance decides")


class Actions(Strict):
    retrain: bool = Field(True, description="open (or update) the retraining PR when the monitor asks for it")
    rollback: bool = Field(False, description="roll back a recently promoted version that performs worse live")
    rollback_within_hours: float = Field(168, gt=0, description="how recent a promotion must be to be rolled back "
                                                                "(older versions are retrained instead)")


class Monitoring(Strict):
    features: list[str] = Field(default_factory=list, description="empty: every feature")
    drift: Drift = Drift()
    window_size: int = Field(1000, gt=0)
    min_samples: int = Field(200, gt=0)
    schedule: Cron = "17 */6 * * *"
    window_hours: float | None = Field(None, gt=0, description="only predictions of the last hours (default: "
                                                                "the last window_size, whenever logged)")
    hysteresis: int = Field(2, ge=1, description="consecutive bad windows before acting")
    cooldown_hours: float = Field(24, ge=0, description="after acting, wait this long before acting again")
    performance: Performance | None = None
    actions: Actions = Actions()

    @model_validator(mode="after")
    def _samples(self) -> Monitoring:
        if self.min_samples > self.window_size:
            raise FieldError("min_samples", f"min_samples ({self.min_samples}) is larger than window_size "
                             f"({self.window_size}); expected min_samples ≤ window_size")
        return self


class ModelSpec(Strict):
    apiVersion: Literal["mlops/v1"] = "mlops/v1"  # the YAML key
    kind: Literal["Model"] = "Model"
    name: DnsLabel
    description: str = Field(min_length=1)
    owners: list[Owner] = Field(min_length=1)
    task: Literal["classification", "regression"]
    code: RelativePy = Field("model.py", description="the user code, relative to the model directory")
    data: Data
    params: dict[str, Scalar | list[Scalar]] = Field(default_factory=dict)
    training: Training = Training()
    evaluation: Evaluation
    serving: Serving
    monitoring: Monitoring = Monitoring()
    card: Card = Card()

"""``card:`` in model.yaml: what a model card says that no record can — what the model is for and where it fails."""

from __future__ import annotations

from pydantic import Field

from mlops.core.spec.types import Strict


class Card(Strict):
    intended_use: str = Field("", description="what the model is for, and for whom")
    limitations: list[str] = Field(default_factory=list, description="where it is known to fail or was never "
                                                                     "validated; what it must not be used for")

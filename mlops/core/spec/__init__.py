"""Specs: pydantic models of the repository's files (model specs, environments, version records)."""

from mlops.core.spec.environment import Environment, Pin
from mlops.core.spec.model import Gate, ModelSpec
from mlops.core.spec.record import VersionRecord

__all__ = ["Environment", "Gate", "ModelSpec", "Pin", "VersionRecord"]

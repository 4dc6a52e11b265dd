"""``.github/mlops.yaml``: repository-level governance — who owns the policy and the automation itself.

Optional. With it, ``mlops codeowners`` gives the governance team ``/.github/``, ``/mlops/``, the version
records (beside each model's owners), every environment (beside its approvers) and the CODEOWNERS file;
without it, those governance lines are left out.

.. code-block:: yaml

    governance:
      team: "@my-org/ml-governance"   # approves policy changes, .github/, environments' policy
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mlops.core.spec.types import Owner, Strict

GOVERNANCE_FILE = ".github/mlops.yaml"


class Governance(Strict):
    team: Owner = Field(description="the GitHub team (@org/team; a user or e-mail also works) that approves policy "
                                    "changes, the automation (.github/, mlops/) and the CODEOWNERS file")


class RepositoryConfig(Strict):
    """The whole of ``.github/mlops.yaml``."""

    apiVersion: Literal["mlops/v1"] = "mlops/v1"  # the YAML key
    kind: Literal["Repository"] = "Repository"
    governance: Governance

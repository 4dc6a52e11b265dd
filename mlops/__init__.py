"""GitOps for deep-learning MLOps: the repository is the system.

Layers (enforced by import-linter, see pyproject.toml): ``mlops.cli`` → core verbs
(``mlops.validate``, ``mlops.render``, ``mlops.train`` …) → ``mlops.adapters`` → ``mlops.core``.
"""

__version__ = "0.1.0"

"""Validate the repository: each file against its schema, then the checks across files."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mlops.core.checks import check_repository
from mlops.core.errors import Problem, UserError, no_model_named
from mlops.core.owners import codeowners_problems
from mlops.core.repo import Repository, load_repository


@dataclass
class Validation:
    """What was checked and what was wrong (a verdict for people and as JSON)."""

    repo: Repository
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> dict[str, object]:
        repo = self.repo
        return {
            "ok": self.ok,
            "models": sorted(repo.models),
            "environments": repo.promotion_order() or sorted(repo.environments),
            "version_records": sum(len(r) for r in repo.records.values()),
            "problems": [str(p) for p in self.problems],
        }


def validate(root: Path, models: set[str] | None = None) -> Validation:
    repo = load_repository(root, only_models=models)
    problems = list(repo.problems)
    if models is not None:
        missing = sorted(models - set(repo.model_dirs))
        problems.extend(Problem("models", 1, 1, no_model_named(m, repo.model_dirs))
                        for m in missing)
    problems.extend(check_repository(repo))
    problems.extend(codeowners_problems(repo, compare=models is None))  # a stale .github/CODEOWNERS
    return Validation(repo, sorted(set(problems)))


def load_valid(root: Path, models: set[str] | None = None) -> Repository:
    """The repository (``models`` only, when given), or a :class:`UserError` listing every problem (for
    verbs that need valid input)."""
    result = validate(root, models)
    if result.problems:
        raise UserError(result.problems)
    return result.repo

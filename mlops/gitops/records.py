"""Version records are append-only: against a base revision, a record may be added, never changed or removed."""

from __future__ import annotations

from pathlib import Path

from mlops.core.errors import Problem, UsageError


def record_changes(root: Path, base: str) -> list[Problem]:
    """Problems for every version record that ``base`` has and the working tree changed or deleted."""
    import git

    try:
        repo = git.Repo(root, search_parent_directories=True)
        repo.commit(base)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError) as exc:
        raise UsageError(f"--base needs a git repository at {root}: {exc}") from None
    except (git.BadName, ValueError):
        raise UsageError(f"--base {base}: no such revision (fetch it first, e.g. `git fetch origin main`)") from None
    top = Path(repo.working_tree_dir or root)
    prefix = root.resolve().relative_to(top.resolve()).as_posix()
    spec = "models/*/versions/*.yaml" if prefix == "." else f"{prefix}/models/*/versions/*.yaml"
    out = repo.git.diff("--name-status", "--no-renames", base, "--", spec)
    problems: list[Problem] = []
    for line in out.splitlines():
        status, _, path = line.partition("\t")
        rel = path if prefix == "." else path.removeprefix(prefix + "/")
        if status.startswith("M"):
            problems.append(Problem(rel, 1, 1, f"version record changed since {base}; records are immutable "
                                               "(train a new version instead)"))
        elif status.startswith("D"):
            problems.append(Problem(rel, 1, 1, f"version record deleted since {base}; records are immutable "
                                               "(unpin the version instead)"))
    return problems

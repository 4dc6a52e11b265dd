"""``mlops doctor``: read the GitHub settings the trust model relies on and report each as ok / missing / unknown.

The trust model: pull requests are validated with a read-only token; jobs that hold the bot's App key or
reach the self-hosted GPU runners run workflow definitions from the default branch only; the App key is a
secret of an environment whose deployment branch policy allows only the default branch; ``mlops/gates``
is a required status and reviews (code owners included) are required. One check per setting; a check
that cannot read what it needs says so (unknown, with the token it needs) instead of failing the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mlops.adapters.forge import ForgeError
from mlops.doctor.app import app_permissions
from mlops.doctor.checks import bot_environment, codeowners, fork_pr_approval, ruleset
from mlops.doctor.findings import DoctorReport, Finding, Malformed
from mlops.doctor.runners import runner_groups
from mlops.doctor.source import Context, DoctorOptions, SettingsSource, context_from


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    run: Callable[[SettingsSource, Context], Finding]
    needs: str  # what the token needs to read it (shown when GitHub refuses)


CHECKS: tuple[Check, ...] = (
    Check("fork-pr-approval", "fork PR approval", fork_pr_approval,
          "repository administration: read (a repository admin's token)"),
    Check("ruleset", "ruleset on the default branch", ruleset, "repository metadata: read"),
    Check("codeowners", "CODEOWNERS coverage", codeowners, "repository contents: read"),
    Check("bot-environment", "bot environment", bot_environment,
          "repository actions (environments): read"),
    Check("runner-groups", "GPU runner groups", runner_groups,
          "actions: read and contents: read on the repository; org admin read for runner groups"),
    Check("app-permissions", "App permissions", app_permissions, "the App's id and private key"),
)


def run_doctor(source: SettingsSource, options: DoctorOptions | None = None) -> DoctorReport:
    """Every check against ``source``'s repository. Raises ForgeError only when the repository itself is unreadable."""
    options = options or DoctorOptions()
    try:
        ctx = context_from(source.repository, source.repo(), options)
    except ForgeError as exc:
        hint = ("; check --repository (or GITHUB_REPOSITORY) and that the token can read it"
                if exc.status in (401, 403, 404) else "")
        raise ForgeError(f"cannot read the repository {source.repository}: {exc.problems[0].message}{hint}",
                         exc.status) from exc
    except Malformed as exc:
        raise ForgeError(f"cannot read the repository {source.repository}: {exc}") from exc
    return DoctorReport(ctx.repository, ctx.default_branch, tuple(_run(check, source, ctx) for check in CHECKS))


def _run(check: Check, source: SettingsSource, ctx: Context) -> Finding:
    try:
        return check.run(source, ctx)
    except ForgeError as exc:
        message = exc.problems[0].message
        if exc.status in (401, 403):
            why = f"GitHub refused the read ({message}); needs {check.needs}"
        elif exc.status == 404:
            why = f"not found or not visible to this token ({message}); needs {check.needs}"
        else:
            why = f"could not read it: {message}"
        return Finding(check.id, check.title, "unknown", why, f"rerun with a token that has {check.needs}")
    except Malformed as exc:
        return Finding(check.id, check.title, "unknown", f"GitHub's answer was not as documented: {exc}",
                       "rerun; if it persists, the API changed: check the setting by hand")

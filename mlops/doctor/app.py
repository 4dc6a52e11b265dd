"""The GitHub App's installation: contents write, and nothing broader than the framework needs.

Read with the App's own JWT (``apps/get-repo-installation``) when its id and private key are given,
else from the organisation's installations (``orgs/list-app-installations``, org admin) when the App's
id is given; otherwise the check says how to look.
"""

from __future__ import annotations

from typing import Any

from mlops.adapters.forge import ForgeError
from mlops.doctor.findings import Finding, Malformed
from mlops.doctor.source import Context, SettingsSource, dicts, text

# What the framework's bot writes: commits (records, promotions, rollbacks), pull requests and their comments,
# commit statuses and checks, issues (incidents), deployments. Every App has metadata: read.
NEEDED = frozenset({"contents", "pull_requests", "statuses", "issues", "deployments", "checks", "metadata"})
LEVELS = frozenset({"read", "write", "admin"})
HOW = ("give the App's id (--app-id or MLOPS_APP_CLIENT_ID) and its private key (MLOPS_APP_PRIVATE_KEY or "
       "--app-key-file), or look at Settings → GitHub Apps → the App → Permissions: contents write; only "
       + ", ".join(sorted(NEEDED)))


def judge(installation: dict[str, Any], where: str) -> Finding:
    """The finding for one installation object (its ``permissions``, repository selection, suspension)."""
    reads = ("apps/get-repo-installation",) if where == "repository" else ("orgs/list-app-installations",)
    permissions = installation.get("permissions")
    if not isinstance(permissions, dict) or any(v not in LEVELS for v in permissions.values()):
        raise Malformed("the installation's permissions are not a map of read/write levels")
    slug = text(installation.get("app_slug")) or str(installation.get("app_id", "the App"))
    problems = []
    if permissions.get("contents") != "write":
        problems.append(f"contents is {permissions.get('contents', 'not granted')}, the bot needs write")
    extra = sorted(f"{k}: {v}" for k, v in permissions.items() if k not in NEEDED)
    if extra:
        problems.append("broader than the framework needs: " + ", ".join(extra))
    if installation.get("repository_selection") == "all":
        problems.append("installed on every repository of the account, not only the selected ones")
    if installation.get("suspended_at"):
        problems.append("the installation is suspended")
    title = "App permissions"
    granted = ", ".join(f"{k}: {v}" for k, v in sorted(permissions.items()))
    if problems:
        fix = (f"Settings → GitHub Apps → {slug}: contents write and nothing beyond {', '.join(sorted(NEEDED))}; "
               "install it on selected repositories only (then accept the new permissions)")
        return Finding("app-permissions", title, "missing", f"{slug}: " + "; ".join(problems), fix, reads)
    return Finding("app-permissions", title, "ok", f"{slug} ({granted})", reads=reads)


def app_permissions(source: SettingsSource, ctx: Context) -> Finding:
    app = ctx.options.app_id
    if source.has_app_key:
        try:
            return judge(source.app_installation(), "repository")
        except ForgeError as exc:
            if exc.status == 404:
                return Finding("app-permissions", "App permissions", "missing", f"the App {app} is not installed "
                               f"on {ctx.repository}", "install the App on this repository (Settings → GitHub "
                               "Apps → Configure → Repository access)", ("apps/get-repo-installation",))
            if exc.status == 401:
                return Finding("app-permissions", "App permissions", "unknown", "GitHub refused the App's JWT "
                               "(HTTP 401): the App id and private key do not match, or this machine's clock is "
                               "off", HOW, ("apps/get-repo-installation",))
            raise
    if app and ctx.org:
        try:
            installations = dicts(source.org_installations(ctx.org), "installations")
        except ForgeError as exc:
            if exc.status not in (403, 404):
                raise
            return Finding("app-permissions", "App permissions", "unknown", "reading the organisation's App "
                           f"installations needs org admin (HTTP {exc.status}) or the App's private key", HOW,
                           ("orgs/list-app-installations",))
        for item in installations:
            if app in (str(item.get("app_id")), text(item.get("client_id")), text(item.get("app_slug"))):
                return judge(item, "organisation")
        return Finding("app-permissions", "App permissions", "missing", f"the App {app} is not installed in "
                       f"{ctx.org}", "install the App on this repository (Settings → GitHub Apps)",
                       ("orgs/list-app-installations",))
    return Finding("app-permissions", "App permissions", "unknown", "the installation's permissions can only be "
                   "read with the App's own key (or, for an organisation, an org admin token and the App's id)", HOW)

"""The repository checks: fork PR approval, the default branch's ruleset, CODEOWNERS, the bot's environment.

Each check reads through a :class:`~mlops.doctor.source.SettingsSource` and returns one finding. A
ForgeError that a check does not expect (a 403, a rate limit that outlasts the retries) is turned into
an "unknown" finding by :mod:`mlops.doctor.doctor`, with what the token needs.
"""

from __future__ import annotations

from typing import Any

from mlops.adapters.forge import ForgeError
from mlops.doctor.codeowners import LOCATIONS, parse
from mlops.doctor.findings import Finding, Malformed
from mlops.doctor.source import Context, SettingsSource, dicts, text

FORK_POLICIES = {
    "all_external_contributors": "every outside contributor's fork pull request waits for a maintainer's "
                                 "approval before any workflow runs",
    "first_time_contributors": "only first-time contributors wait for approval: anyone who has had one "
                               "contribution merged runs workflows from a fork unreviewed",
    "first_time_contributors_new_to_github": "only first-time contributors with new GitHub accounts wait for "
                                             "approval (GitHub's default): any older account runs workflows "
                                             "from a fork unreviewed",
}
# (area, a representative path GitHub would decide ownership of)
AREAS = (("environments/", "environments/prod.yaml"), ("models/*/versions/", "models/any-model/versions/1.yaml"),
         (".github/", ".github/workflows/any.yml"), ("mlops/", "mlops/__init__.py"))


def fork_pr_approval(source: SettingsSource, ctx: Context) -> Finding:
    reads = ("actions/get-fork-pr-contributor-approval-permissions-repository",)
    title, fix = "fork PR approval", ("Settings → Actions → General → 'Approval for running fork pull request "
                                      "workflows from contributors': require approval for all external contributors")
    try:
        policy = source.fork_pr_approval().get("approval_policy")
    except ForgeError as exc:
        if exc.status != 404:
            raise
        return Finding("fork-pr-approval", title, "unknown", "GitHub has no fork pull request approval policy for "
                       "this repository (private and internal repositories have 'fork pull request workflows' "
                       "settings instead)", "Settings → Actions → General → fork pull request workflows", reads)
    if policy not in FORK_POLICIES:
        raise Malformed(f"unknown approval_policy {policy!r}")
    if policy == "all_external_contributors":
        return Finding("fork-pr-approval", title, "ok", FORK_POLICIES[policy], reads=reads)
    return Finding("fork-pr-approval", title, "missing", f"{policy}: {FORK_POLICIES[policy]}", fix, reads)


def _parameters(rule: dict[str, Any]) -> dict[str, Any]:
    params = rule.get("parameters")
    return params if isinstance(params, dict) else {}


def ruleset(source: SettingsSource, ctx: Context) -> Finding:
    branch, status = ctx.default_branch, ctx.options.status
    rules = dicts(source.branch_rules(branch), "rules")
    contexts = {text(c.get("context")) for r in rules if r.get("type") == "required_status_checks"
                for c in dicts(_parameters(r).get("required_status_checks", []), "required_status_checks")}
    pulls = [_parameters(r) for r in rules if r.get("type") == "pull_request"]
    counts = [p.get("required_approving_review_count") for p in pulls]
    approvals = max((c for c in counts if isinstance(c, int) and not isinstance(c, bool)), default=0)
    owners = any(p.get("require_code_owner_review") is True for p in pulls)
    names = sorted({text(r.get("ruleset_source")) or str(r.get("ruleset_id", "")) for r in rules} - {""})
    problems = []
    if status not in contexts:
        problems.append(f"no active ruleset requires the status check {status}")
    if not pulls:
        problems.append("no active ruleset requires a pull request before merging")
    else:
        if approvals < 1:
            problems.append("pull requests need no approving review")
        if not owners:
            problems.append("code owners' review is not required")
    fix = (f"Settings → Rules → Rulesets: an active ruleset on {branch} with 'Require status checks to pass' "
           f"({status}) and 'Require a pull request before merging' (≥ 1 approval, review from Code Owners)")
    found = f"rulesets on {branch}: {', '.join(names)}" if names else f"no active ruleset applies to {branch}"
    if problems:
        note = "" if rules else " (classic branch protection is not read: the framework expects a ruleset)"
        return Finding("ruleset", f"ruleset on {branch}", "missing", f"{found}; " + "; ".join(problems) + note,
                       fix, ("repos/get-branch-rules",))
    return Finding("ruleset", f"ruleset on {branch}", "ok", f"{found}: require {status}, pull requests with "
                   f"≥ {approvals} approval{'s' if approvals > 1 else ''} including code owners",
                   reads=("repos/get-branch-rules",))


def codeowners(source: SettingsSource, ctx: Context) -> Finding:
    reads = ("repos/get-content", "repos/codeowners-errors")
    title = "CODEOWNERS coverage"
    fix = ("on the default branch, give owners to /environments/, /models/*/versions/, /.github/ and /mlops/ "
           "in .github/CODEOWNERS (the last matching line wins; a pattern without owners un-assigns)")
    location, content = None, ""
    for path in LOCATIONS:
        try:
            content = source.file_text(path, ctx.default_branch)
        except ForgeError as exc:
            if exc.status != 404:
                raise
            continue
        location = path
        break
    if location is None:
        return Finding("codeowners", title, "missing", f"no CODEOWNERS file on {ctx.default_branch} "
                       f"({', '.join(LOCATIONS)})", fix, reads[:1])
    owners = parse(content)
    areas = [*AREAS, (location, location)]  # the file itself: whoever owns it decides every other owner
    uncovered = [area for area, path in areas if not owners.owners(path)]
    covered = [f"{area} ({' '.join(owners.owners(path))})" for area, path in areas if owners.owners(path)]
    try:
        errors = dicts(source.codeowners_errors(ctx.default_branch), "errors")
    except ForgeError as exc:
        if exc.status != 404:
            raise
        errors = []
    problems = [f"no owner for {', '.join(uncovered)}"] if uncovered else []
    if errors:
        shown = "; ".join(f"line {e.get('line', '?')}: {text(e.get('kind')) or 'error'}" for e in errors[:3])
        more = f" (+{len(errors) - 3} more)" if len(errors) > 3 else ""
        problems.append(f"GitHub reports {len(errors)} error{'s' if len(errors) > 1 else ''} in {location}: "
                        f"{shown}{more}")
    if problems:
        return Finding("codeowners", title, "missing", f"{location}: " + "; ".join(problems), fix, reads)
    return Finding("codeowners", title, "ok", f"{location} owns " + ", ".join(covered), reads=reads)


def bot_environment(source: SettingsSource, ctx: Context) -> Finding:
    name, branch = ctx.options.environment, ctx.default_branch
    title, reads = f"environment {name}", ("repos/get-environment", "repos/list-deployment-branch-policies")
    fix = (f"Settings → Environments → {name} → Deployment branches and tags: 'Selected branches and tags' with "
           f"only {branch}; keep the App's private key as a secret of this environment only")
    try:
        env = source.environment(name)
    except ForgeError as exc:
        if exc.status != 404:
            raise
        return Finding("bot-environment", title, "missing", f"the repository has no environment {name!r}",
                       f"create it: {fix}", reads[:1])
    policy = env.get("deployment_branch_policy")
    if policy is None:
        return Finding("bot-environment", title, "missing", "no deployment branch policy: a job on any branch "
                       "(any pull request's workflow) gets the environment's secrets", fix, reads[:1])
    if not isinstance(policy, dict):
        raise Malformed("deployment_branch_policy is not an object")
    if policy.get("protected_branches") is True:
        return Finding("bot-environment", title, "missing", "every protected branch may deploy, not only "
                       f"{branch}", fix, reads[:1])
    if policy.get("custom_branch_policies") is not True:
        raise Malformed("deployment_branch_policy allows neither protected nor custom branches")
    policies = dicts(source.deployment_branch_policies(name), "branch_policies")
    allowed = [f"{text(p.get('type')) or 'branch'} {text(p.get('name'))}" for p in policies]
    extra = [a for a in allowed if a != f"branch {branch}"]
    if not policies:
        return Finding("bot-environment", title, "missing", "no branch may deploy (the jobs that need the App's "
                       "key cannot run)", f"add {branch}: {fix}", reads)
    if extra:
        return Finding("bot-environment", title, "missing", f"besides {branch}, these may deploy: "
                       f"{', '.join(extra)} (a tag or another branch can carry any workflow)", fix, reads)
    return Finding("bot-environment", title, "ok", f"only {branch} may deploy", reads=reads)

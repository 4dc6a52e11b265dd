"""Monitor the pinned versions of an environment: drift, live performance, data quality, serving; and act.

For each pinned model (or --model): the last monitoring.window_size logged predictions (or those of the last
monitoring.window_hours), a seeded sample of at most 100,000, against the version's own training rows
(through its record and DVC). Drift is tested column by column and on the prediction at the model's
family-wise level (monitoring.drift.alpha); below monitoring.min_samples the verdict is "insufficient data".
Delayed labels give the live metric with a 95 % interval; Prometheus (the environment's
monitoring.prometheus_url) gives CPU, memory, GPU, throughput, latency, errors and cost per 1,000 predictions.

The verdict is appended to the history on the bot's branch (monitoring.state_branch). After
monitoring.hysteresis bad windows in a row — and not in the cooldown, nor while a retraining PR is open — the
monitor opens the retraining PR (mlops/retrain/<model>) or, when a recent promotion performs worse live than
the version before it, rolls back (the delivery's rollback and revert PR). Data-quality incidents become issues.
The same window judged twice acts once. --dry-run judges and reports only.

Writes monitor-<env>-<model>.json (the verdict) and .html (evidently's report of the sampled windows) to --out.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime
from pathlib import Path

from mlops.cli._run import add_repo_argument, repo_root, step_summary
from mlops.core.errors import UsageError

EXAMPLES = """examples:
  mlops monitor --env dev                       every pinned model of dev: judge, remember, act
  mlops monitor --env prod --model digits-cnn --dry-run
  mlops monitor --due                           the pairs whose schedule fired (monitor.yml's matrix)"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env", metavar="ENV", help="the environment")
    parser.add_argument("--model", metavar="NAME", help="only this model (default: every pinned model)")
    parser.add_argument("--due", action="store_true", help="print the (environment, model) pairs whose "
                                                           "monitoring.schedule fired since their last run, as JSON")
    parser.add_argument("--dry-run", action="store_true", help="judge and report; no history, PR, rollback or issue")
    parser.add_argument("--out", metavar="DIR", default=".mlops/monitor",
                        help="where the JSON verdicts and HTML reports go (default: .mlops/monitor)")
    parser.add_argument("--now", metavar="TIME", help="judge as of this UTC time (ISO 8601; default: now)")
    parser.add_argument("--base", default="main", metavar="BRANCH", help="the default branch (default: main)")
    parser.add_argument("--local-drift", action="store_true", help="run the same drift tests without evidently")
    parser.add_argument("--json", action="store_true", help="print the verdicts as JSON")
    add_repo_argument(parser)


def _now(value: str | None) -> datetime:
    from mlops.monitor.run import now_utc

    if not value:
        return now_utc()
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--now {value!r} is not an ISO 8601 time (e.g. 2026-01-01T12:00:00Z)") from None
    if when.tzinfo is None:
        raise UsageError(f"--now {value!r} has no time zone; expected UTC, e.g. 2026-01-01T12:00:00Z")
    return when


def _output(name: str, value: str) -> None:
    if os.environ.get("GITHUB_ACTIONS") == "true" and os.environ.get("GITHUB_OUTPUT"):
        with Path(os.environ["GITHUB_OUTPUT"]).open("a", encoding="utf-8") as fh:
            fh.write(f"{name}={value}\n")


def run(args: argparse.Namespace) -> int:
    from mlops.adapters.forge import forge_from_env
    from mlops.core.atomic import write_text
    from mlops.monitor.report import markdown
    from mlops.monitor.run import Settings, monitor
    from mlops.validate.validate import load_valid

    repo = load_valid(repo_root(args.repo))
    now = _now(args.now)
    if not args.due and not args.env:
        raise UsageError("give --env ENV (or --due)")
    forge = forge_from_env(repo.root)
    try:
        if args.due:
            from mlops.adapters.scm import try_open_scm
            from mlops.monitor.due import due_pairs

            scm = try_open_scm(repo.root)
            base = scm.require("HEAD") if scm is not None else args.base
            pairs = [d.to_dict() for d in due_pairs(repo, forge, now, base, env=args.env, model=args.model)]
            print(json.dumps(pairs))
            _output("pairs", json.dumps(pairs))
            return 0
        from mlops.monitor.due import pinned_pairs

        pairs_of_env = pinned_pairs(repo, args.env, args.model)
        repo.require_environment(args.env)
        if args.model:
            repo.require_model(args.model)
        out = Path(args.out) if Path(args.out).is_absolute() else repo.root / args.out
        out.mkdir(parents=True, exist_ok=True)
        settings = Settings(now, act=not args.dry_run, local_drift=args.local_drift, out=out, base=args.base)

        def say(line: str) -> None:
            print(f"mlops monitor: {line}", file=sys.stderr, flush=True)

        outcomes = []
        for env, model, _ in pairs_of_env:
            outcome = monitor(repo, env, model, forge, settings, say=say)
            write_text(out / f"monitor-{env}-{model}.json", json.dumps(outcome.to_dict(), indent=2, sort_keys=True))
            step_summary(markdown(outcome))
            outcomes.append(outcome)
        if not outcomes:
            print(f"{args.env}: nothing pinned{' for ' + args.model if args.model else ''}; nothing to monitor")
        if args.json:
            print(json.dumps([o.to_dict() for o in outcomes], indent=2, sort_keys=True))
        else:
            for o in outcomes:
                live = f", live {o.live.metric} {o.live.value:.4f}" if o.live and o.live.value is not None else ""
                print(f"{o.environment}/{o.model}@{o.version}: {o.run.drift}{live} ({o.run.performance}) → "
                      f"{o.decision.action}: {o.decision.reason}" + (f" [{o.run.acted}]" if o.run.acted else ""))
        return 0
    finally:
        forge.close()

"""`mlops explain` on a repository with 1,000 version records and 10,000 commits.

    .venv/bin/python benchmarks/bench_explain.py                  # about a minute
    .venv/bin/python benchmarks/bench_explain.py --commits 2000 --records 200

Builds the repository with ``git fast-import`` (a real git history, nothing mocked): the example's specs and
environments; ``--records`` valid version records (as `mlops train` writes them, half per model), each added by
its own commit; a pin change in dev every 10th commit, in staging every 30th and in prod every 100th (each
promoting what the environment before it runs); every 25th commit a merge of a side branch (a pull request's
merge commit) and the rest ordinary changes elsewhere in the tree. Then, each in a fresh process, median of 5:

- ``mlops explain prod digits-cnn`` (the pinned version's record, the commit that pinned it, the gates, the
  promotion path through dev and staging, prod's pin history);
- ``mlops explain digits-cnn@<the oldest record>`` (a version pinned nowhere now: every environment's history
  is searched for it);
- ``python -m mlops --help`` on the same machine (the interpreter and CLI start-up, for scale).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MODELS = ("digits-cnn", "cancer-mlp")
CHAIN = (("dev", 10), ("staging", 30), ("prod", 100))


def _data(blob: bytes) -> bytes:
    return b"data %d\n" % len(blob) + blob + b"\n"


def build(repo: Path, commits: int, records: int) -> dict[str, str]:
    """The repository at ``repo``; returns the oldest version of digits-cnn (pinned nowhere at the end)."""
    import yaml

    from mlops.deploy.pin import set_pin
    from tests.helpers.git import copy_example, git
    from tests.helpers.records import record_body

    copy_example(repo)
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    env_text = {env: (repo / "environments" / f"{env}.yaml").read_text() for env, _ in CHAIN}
    base = [(p.relative_to(repo).as_posix(), p.read_bytes()) for p in sorted(repo.rglob("*"))
            if p.is_file() and ".git" not in p.parts and ".dvc/cache" not in p.as_posix()]
    every = max(1, commits // records)
    versions: dict[str, list[str]] = {m: [] for m in MODELS}
    pinned: dict[str, dict[str, str]] = {env: {} for env, _ in CHAIN}
    out = bytearray()
    t0 = 1_700_000_000
    mark = 0

    def commit(files: list[tuple[str, bytes]], message: str, branch: str = "main", merge: int | None = None,
               parent: int | None = None) -> int:
        nonlocal mark
        mark += 1
        out.extend(b"commit refs/heads/%s\nmark :%d\n" % (branch.encode(), mark))
        out.extend(b"committer bench <bench@example.com> %d +0000\n" % (t0 + 60 * mark))
        out.extend(_data(message.encode()))
        if parent is not None:
            out.extend(b"from :%d\n" % parent)
        if merge is not None:
            out.extend(b"merge :%d\n" % merge)
        for path, blob in files:
            out.extend(b"M 100644 inline %s\n" % path.encode() + _data(blob))
        return mark

    main = commit(base, "Initial import")
    for i in range(1, commits):
        files: list[tuple[str, bytes]] = []
        message = f"change {i}"
        if (i - 1) % every == 0 and sum(map(len, versions.values())) < records:  # a record in its own commit
            model = MODELS[(i // every) % 2]
            version = f"2025{1 + (i // 28800) % 12:02d}{1 + (i // 960) % 28:02d}-{i:08x}"
            body = record_body(model, version, created=f"2025-01-01T00:00:{i % 60:02d}Z")
            files.append((f"models/{model}/versions/{version}.yaml", yaml.safe_dump(body, sort_keys=False).encode()))
            versions[model].append(version)
            message = f"Version record {model}@{version}"
        for env, period in CHAIN:
            if i % period == 0 and versions["digits-cnn"]:
                source = {"dev": None, "staging": "dev", "prod": "staging"}[env]
                want = versions["digits-cnn"][-1] if source is None else pinned[source].get("digits-cnn")
                if want and want != pinned[env].get("digits-cnn"):
                    env_text[env] = set_pin(env_text[env], f"environments/{env}.yaml", "digits-cnn", want)
                    pinned[env]["digits-cnn"] = want
                    files.append((f"environments/{env}.yaml", env_text[env].encode()))
                    message = f"Pin digits-cnn@{want} in {env}"
        if not files:
            files.append((f"docs/notes/{i % 97}.md", f"note {i}\n".encode()))
        if i % 25 == 0:  # the change arrives through a pull request's merge commit
            side = commit(files, message, branch=f"pr/{i}", parent=main)
            main = commit(files, f"Merge pull request #{i} from pr/{i}\n\n{message}", merge=side, parent=main)
        else:
            main = commit(files, message, parent=main)
    subprocess.run(["git", "-C", str(repo), "fast-import", "--quiet"], input=bytes(out), check=True)
    git(repo, "reset", "-q", "--hard", "main")
    for branch in git(repo, "branch", "--format=%(refname:short)").split():
        if branch.startswith("pr/"):
            git(repo, "branch", "-q", "-D", branch)
    return {"oldest": versions["digits-cnn"][0], "prod": pinned["prod"]["digits-cnn"],
            "records": str(sum(map(len, versions.values()))), "commits": git(repo, "rev-list", "--count", "HEAD")}


def timed(argv: list[str], cwd: Path) -> tuple[float, str]:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "mlops", *argv], cwd=cwd, capture_output=True, text=True)
    took = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"mlops {' '.join(argv)} failed: {proc.stderr}")
    return took, proc.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--commits", type=int, default=10_000)
    parser.add_argument("--records", type=int, default=1_000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="copy the built repository there (to profile it)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-explain-") as tmp:
        repo = Path(tmp) / "repo"
        t0 = time.perf_counter()
        built = build(repo, args.commits, args.records)
        print(f"built in {time.perf_counter() - t0:.0f} s: {built['commits']} commits (first-parent and merged), "
              f"{built['records']} version records; prod pins digits-cnn@{built['prod']}")
        cases = [("explain prod digits-cnn", ["explain", "prod", "digits-cnn", "--repo", str(repo)]),
                 ("explain digits-cnn@<oldest, pinned nowhere>",
                  ["explain", f"digits-cnn@{built['oldest']}", "--repo", str(repo)]),
                 ("--help (start-up)", ["--help"])]
        if args.keep:
            import shutil

            shutil.copytree(repo, args.keep, symlinks=True)
        results = {}
        for label, argv in cases:
            times = []
            for _ in range(args.reps):  # interleaving is not needed: each case is one short process
                took, out = timed(argv, repo)
                times.append(took)
            results[label] = statistics.median(times)
            print(f"{label:48s} median {statistics.median(times) * 1000:6.0f} ms  "
                  f"(min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f})")
            if argv[0] == "explain":
                print("\n".join(f"    {line}" for line in out.splitlines() if line.startswith(
                    ("promotion path", "pinned by", "pinned now"))))
        print(json.dumps({"built": built, "median_s": results}))


if __name__ == "__main__":
    main()

"""Stands in for `python -I -m mlops VERB …` in the composite-action tests: logs its arguments and plays the verb.

FAKE_TRAIN=fail makes train fail;
FAKE_FAIL_ENV / FAKE_CRASH_ENV make evaluate fail a gate (verdict written, exit 1) or break (no verdict, exit 1)
for that environment; FAKE_RC sets the exit code of other verbs; FAKE_DIFF is what diff prints.
"""

import json
import os
import sys
from pathlib import Path

args = sys.argv[1:]
with Path(os.environ["FAKE_LOG"]).open("a", encoding="utf-8") as log:
    log.write(" ".join(args) + f" @ {Path.cwd()}\n")
if args[:2] == ["-I", "-c"]:  # the train action reads the version from mlops train --json
    print(json.loads(Path(args[3]).read_text())["version"])
    sys.exit(0)
if args[:3] != ["-I", "-m", "mlops"]:
    sys.exit(f"fake python: expected -I -m mlops (the framework isolated from the checkout), got {args}")
verb, rest = args[3], args[4:]


def option(name: str, default: str = "") -> str:
    return rest[rest.index(name) + 1] if name in rest else default


if verb == "train":  # as mlops train --no-push does: the artifact directory (git-ignored), its pointer, the record
    model = rest[0]
    versions = Path(option("--repo", ".")) / "models" / model / "versions"
    versions.mkdir(parents=True, exist_ok=True)
    version = "20261201-0123abcd"
    if os.environ.get("FAKE_TRAIN") == "fail":
        sys.exit(1)
    (versions / version).mkdir()
    (versions / version / "program.pt2").write_bytes(b"weights")
    with (versions / ".gitignore").open("a", encoding="utf-8") as ignore:
        ignore.write(f"/{version}\n")
    (versions / f"{version}.dvc").write_text(f"outs:\n- path: {version}\n", encoding="utf-8")
    (versions / f"{version}.yaml").write_text(f"model: {model}\n", encoding="utf-8")
    local = Path(option("--repo", ".")) / ".dvc" / "config.local"
    print(json.dumps({"model": model, "version": version, "config_local": local.read_text() if local.exists() else ""}))
    sys.exit(0)
if verb == "plan":
    with Path(os.environ["GITHUB_OUTPUT"]).open("a", encoding="utf-8") as out:
        out.write(os.environ.get("FAKE_PLAN", "changed=[]\ntrain=[]\nverdicts=0\nbase=" + "b" * 40 + "\n"))
    sys.exit(int(os.environ.get("FAKE_RC", "0")))
if verb == "deploy":
    kubeconfig = os.environ.get("KUBECONFIG", "")
    print(json.dumps({"environment": option("--env"), "ok": os.environ.get("FAKE_DEPLOY_RC", "0") == "0",
                      "kubeconfig": Path(kubeconfig).read_text() if kubeconfig else ""}))
    sys.exit(int(os.environ.get("FAKE_DEPLOY_RC", "0")))
if verb == "accept":
    local = Path(option("--repo", ".")) / ".dvc" / "config.local"
    print(f"config.local: {local.read_text() if local.exists() else 'absent'}; token: {os.environ.get('GITHUB_TOKEN')}")
if verb == "evaluate":
    env_name, out = option("--against"), option("--json-out")
    if env_name == os.environ.get("FAKE_CRASH_ENV"):
        sys.exit(1)
    failed = env_name == os.environ.get("FAKE_FAIL_ENV")
    Path(out).write_text(json.dumps({"model": rest[0], "environment": env_name, "passed": not failed}))
    sys.exit(1 if failed else 0)
if verb == "monitor":
    local = Path(option("--repo", ".")) / ".dvc" / "config.local"
    config = local.read_text() if local.exists() else "absent"
    token, aws = os.environ.get("GITHUB_TOKEN"), os.environ.get("AWS_ACCESS_KEY_ID", "")
    print(f"config.local: {config}; token: {token}; aws: {aws}")
if verb == "diff":
    print(os.environ.get("FAKE_DIFF", ""), end="")
sys.exit(int(os.environ.get("FAKE_RC", "0")))

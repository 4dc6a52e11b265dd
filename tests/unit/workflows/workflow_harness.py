"""Run the shell steps of our composite actions as the runner does, with a stand-in for the mlops interpreter.

GitHub runs a `shell: bash` step as `bash --noprofile --norc -eo pipefail FILE`, with the step's `env:` (where our
actions map every input) and the runner's files ($GITHUB_OUTPUT, $GITHUB_STEP_SUMMARY, $RUNNER_TEMP,
$GITHUB_ACTION_PATH). ``ActionRunner`` does the same for one step, so the glue between inputs, the mlops verbs and
the step outputs is tested for real; only the verbs themselves are replaced, by ``fake_mlops.py``, which records its
command line and plays train/evaluate/report.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]
ACTIONS = ROOT / ".github" / "actions"
HERE = Path(__file__).resolve().parent
INPUT_REF = re.compile(r"^\$\{\{\s*inputs\.([A-Za-z0-9_-]+)\s*\}\}$")


def load_action(name: str) -> dict[str, Any]:
    data = yaml.safe_load((ACTIONS / name / "action.yml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def parse_output_file(text: str) -> dict[str, str]:
    """Parse $GITHUB_OUTPUT: `name=value` lines and `name<<DELIM` … `DELIM` blocks."""
    out: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delim = line.split("<<", 1)
            body: list[str] = []
            for inner in lines:
                if inner == delim:
                    break
                body.append(inner)
            out[name] = "\n".join(body)
        elif "=" in line:
            name, value = line.split("=", 1)
            out[name] = value
    return out


@dataclass
class StepResult:
    code: int
    stdout: str
    stderr: str
    outputs: dict[str, str]
    summary: str
    calls: list[str] = field(default_factory=list)


@dataclass
class ActionRunner:
    tmp: Path
    fake_python: Path
    log: Path

    def run(self, action: str, step: str, inputs: dict[str, str], *, cwd: Path | None = None,
            extra_env: dict[str, str] | None = None) -> StepResult:
        spec = load_action(action)
        declared = spec.get("inputs", {})
        values = {name: str(meta.get("default", "")) for name, meta in declared.items()}
        unknown = set(inputs) - set(declared)
        assert not unknown, f"{action} has no inputs {unknown}"
        values.update(inputs)
        steps = [s for s in spec["runs"]["steps"] if s.get("name") == step]
        assert len(steps) == 1, f"{action}: no single step named {step!r}"
        body = steps[0]
        env = {"PATH": os.environ["PATH"], "HOME": str(self.tmp), "LANG": "C.UTF-8", "GITHUB_ACTIONS": "true"}
        runner_temp = self.tmp / "runner-temp"
        runner_temp.mkdir(exist_ok=True)
        output_file = self.tmp / "github-output"
        summary_file = self.tmp / "step-summary"
        output_file.write_text("", encoding="utf-8")
        summary_file.write_text("", encoding="utf-8")
        self.log.write_text("", encoding="utf-8")
        env.update({"RUNNER_TEMP": str(runner_temp), "GITHUB_OUTPUT": str(output_file),
                    "GITHUB_STEP_SUMMARY": str(summary_file), "GITHUB_ACTION_PATH": str(ACTIONS / action),
                    "FAKE_LOG": str(self.log)})
        for key, value in (body.get("env") or {}).items():
            match = INPUT_REF.match(str(value))
            assert match, f"{action}/{step}: env {key} is not a plain input reference"
            env[key] = values[match.group(1)]
        env.update(extra_env or {})
        script = self.tmp / "step.sh"
        script.write_text(body["run"], encoding="utf-8")
        proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], cwd=cwd or self.tmp,
                              env=env, capture_output=True, text=True, timeout=60)
        return StepResult(proc.returncode, proc.stdout, proc.stderr,
                          parse_output_file(output_file.read_text(encoding="utf-8")),
                          summary_file.read_text(encoding="utf-8"),
                          [c for c in self.log.read_text(encoding="utf-8").splitlines() if c])


def make_runner(tmp_path: Path) -> ActionRunner:
    fake = tmp_path / "fake-python"
    fake.write_text(f"#!{sys.executable}\n" + (HERE / "fake_mlops.py").read_text(encoding="utf-8"), encoding="utf-8")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    return ActionRunner(tmp_path, fake, tmp_path / "calls.log")


WORKFLOWS = ROOT / ".github" / "workflows"


def run_workflow_step(workflow: str, job: str, step: str, env: dict[str, str], cwd: Path,
                      tmp: Path) -> subprocess.CompletedProcess[str]:
    """Run one `run:` step of a workflow job with bash as the runner does; ``env`` stands for its `env:` block."""
    spec = yaml.safe_load((WORKFLOWS / workflow).read_text(encoding="utf-8"))
    [body] = [s for s in spec["jobs"][job]["steps"] if s.get("name") == step]
    assert set(body.get("env") or {}) == set(env), f"{workflow}:{job}/{step} env is {sorted(body.get('env') or {})}"
    script = tmp / "workflow-step.sh"
    script.write_text(body["run"], encoding="utf-8")
    base = {"PATH": os.environ["PATH"], "HOME": str(tmp), "LANG": "C.UTF-8", "GITHUB_ACTIONS": "true"}
    return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], cwd=cwd,
                          env={**base, **env}, capture_output=True, text=True, timeout=60)

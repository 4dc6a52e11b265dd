"""The PR's training path for real: train a baseline and a candidate, evaluate them through the verified
loader against every environment, report through the local forge (idempotently) and set the gates status."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlops.adapters.forge.local import LocalForge
from tests.helpers.git import git as sh

pytestmark = pytest.mark.slow
MODEL = "cancer-mlp"
ROOT = Path(__file__).resolve().parents[2]


def copy_example(dest: Path) -> Path:
    """The example repository's specs, environments and DVC metadata and cache (like tests/conftest.py's
    ``example_repo``, but shared by this module's tests: training twice takes seconds)."""
    for part in ("models", "environments", "data.dvc", ".dvc/config", ".dvcignore", ".gitignore"):
        src = ROOT / part
        if src.is_dir():
            shutil.copytree(src, dest / part, ignore=shutil.ignore_patterns("__pycache__", "versions"))
        elif src.exists():
            (dest / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / part)
    shutil.copytree(ROOT / ".dvc" / "cache", dest / ".dvc" / "cache")
    return dest


def mlops(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "GH_"))}
    return subprocess.run([sys.executable, "-m", "mlops", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600)


def train(repo: Path) -> str:
    done = mlops(repo, "train", MODEL, "--epochs", "2", "--device", "cpu", "--no-push", "--json")
    assert done.returncode == 0, done.stderr
    return str(json.loads(done.stdout)["version"])


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text("utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), "utf-8")


@pytest.fixture(scope="module")
def proposal(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """A git repository whose main pins a trained baseline in staging and prod, and a branch ``proposal`` with a
    bigger network, a stricter prod policy and a newly trained candidate; a local forge PR from it."""
    repo = copy_example(tmp_path_factory.mktemp("evaluate-report") / "repo")
    sh(repo, "init", "--quiet", "-b", "main")
    sh(repo, "add", "-A")
    sh(repo, "commit", "--quiet", "-m", "example")
    baseline = train(repo)
    for env in ("staging", "prod"):
        edit(repo / "environments" / f"{env}.yaml", "pins: {}", f"pins: {{{MODEL}: {baseline}}}")
    sh(repo, "add", "-A")
    sh(repo, "commit", "--quiet", "-m", f"pin {baseline}")
    sh(repo, "checkout", "--quiet", "-b", "proposal")
    edit(repo / "models" / MODEL / "model.yaml", "hidden: [32, 16]", "hidden: [64, 32]")
    edit(repo / "environments" / "prod.yaml", "    - {name: prod-min-accuracy, metric: accuracy, min: 0.93}",
         "    - {name: prod-min-accuracy, metric: accuracy, min: 0.93}\n"
         "    - {name: prod-near-perfect, metric: accuracy, min: 0.999}")
    candidate = train(repo)
    sh(repo, "add", "-A")
    sh(repo, "commit", "--quiet", "-m", f"bigger network, {candidate}")
    LocalForge(repo).open_pr("proposal", "main", f"Bigger {MODEL}", "")
    return repo, baseline, candidate


def evaluate(repo: Path, env: str) -> tuple[int, dict[str, object], str]:
    out = repo.parent / "verdicts" / f"{MODEL}--{env}.json"
    done = mlops(repo, "evaluate", MODEL, "--against", env, "--json-out", str(out))
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(out.read_text()), done.stdout


def test_evaluate_report_status(proposal: tuple[Path, str, str]) -> None:
    repo, baseline, candidate = proposal
    code, dev, text = evaluate(repo, "dev")
    assert code == 0 and dev["passed"] is True and dev["baseline"] is None
    assert text.startswith(f"{MODEL} {candidate} against dev (no baseline pinned): PASS")

    code, staging, _ = evaluate(repo, "staging")
    base = staging["baseline"]
    assert isinstance(base, dict) and base["version"] == baseline and base["source"] == "evaluated"
    assert base["metrics"] == pytest.approx(base["record_metrics"], abs=1e-6)  # recomputed = recorded
    cand = staging["candidate"]
    assert isinstance(cand, dict) and cand["metrics"] == pytest.approx(cand["record_metrics"], abs=1e-6)
    assert staging["notes"] == []
    boot = staging["bootstrap"]  # the paired bootstrap ran on the real model's test rows
    assert isinstance(boot, dict) and boot["replicates"] == 1000 and boot["seed"] == 0 and boot["rows"] > 50
    deltas = staging["delta_intervals"]
    assert isinstance(deltas, dict)
    for name in ("accuracy", "log_loss", "macro_f1"):
        for subject in (cand, base):
            low, high = subject["intervals"][name]
            assert low - 1e-9 <= subject["metrics"][name] <= high + 1e-9 and high - low < 0.5
        assert deltas[name][0] <= cand["metrics"][name] - base["metrics"][name] <= deltas[name][1]
    assert all(g["value_low"] is not None and g["judged"] == "point" for g in staging["gates"])  # type: ignore[union-attr]
    regression = next(g for g in staging["gates"] if g["name"] == "no-accuracy-regression")  # type: ignore[union-attr]
    assert regression["delta_low"] == deltas["accuracy"][0]
    assert staging["confidence"]["margin"] == 0.0  # type: ignore[index]

    code, prod, text = evaluate(repo, "prod")
    assert code == 1 and prod["passed"] is False
    failed = [g for g in prod["gates"] if not g["passed"]]  # type: ignore[union-attr]
    assert [g["name"] for g in failed] == ["prod-near-perfect"]
    assert failed[0]["reason"].endswith("< min 0.999") and "FAIL" in text.splitlines()[0]

    verdicts = repo.parent / "verdicts"
    first = mlops(repo, "report", "--verdicts", str(verdicts), "--base", "main")
    assert first.returncode == 0, first.stderr
    assert "created comment on #1" in first.stderr
    body = LocalForge(repo).pull(1)["comments"][0]["body"]
    assert body == first.stdout
    for expected in (f"### `{MODEL}` · candidate `{candidate}`", f"`{baseline}` (evaluated now)",
                     "| `hidden` | `[32, 16]` | `[64, 32]` |", "```mermaid\nxychart-beta", "not yet promotable: "
                     f"{MODEL} to prod", "prod-near-perfect", f"- vs `{baseline}`: same data",
                     "### Manifests (`mlops diff --base main`)",
                     "**Confidence** at each environment's margin (95 % intervals: paired percentile bootstrap",
                     "- prod (margin 0): not confident"):
        assert expected in body, expected

    again = mlops(repo, "report", "--verdicts", str(verdicts), "--base", "main")
    assert again.returncode == 0 and "unchanged comment on #1" in again.stderr
    assert len(LocalForge(repo).pull(1)["comments"]) == 1

    head = sh(repo, "rev-parse", "HEAD")
    status = mlops(repo, "report", "--status", "--sha", head, "--verdicts", str(verdicts))
    assert status.returncode == 0, status.stderr
    gates = LocalForge(repo).statuses(head)["mlops/gates"]
    assert gates["state"] == "success" and "not yet promotable: cancer-mlp to prod" in gates["description"]


def test_a_baseline_whose_artifact_is_gone_is_judged_on_its_record(proposal: tuple[Path, str, str]) -> None:
    repo, baseline, _ = proposal
    versions = repo / "models" / MODEL / "versions"
    shutil.rmtree(versions / baseline)
    (versions / f"{baseline}.dvc").unlink()
    try:
        _, verdict, text = evaluate(repo, "staging")
        base = verdict["baseline"]
        assert isinstance(base, dict) and base["source"] == "record" and base["metrics"] == base["record_metrics"]
        assert any(f"baseline {baseline} could not be evaluated on the current data" in n
                   for n in verdict["notes"])  # type: ignore[union-attr]
        assert "from its record" in text.splitlines()[0]
        assert verdict["delta_intervals"] == {} and verdict["bootstrap"] is not None
        sure = verdict["confidence"]
        assert isinstance(sure, dict) and sure["confident"] is False
        assert sure["reasons"][0].startswith(f"baseline {baseline} is judged from its record")
    finally:
        sh(repo, "checkout", "--quiet", "--", str(versions / f"{baseline}.dvc"))


def test_several_environments_in_one_run(proposal: tuple[Path, str, str]) -> None:
    repo, baseline, candidate = proposal
    out = repo.parent / "verdicts-together"
    done = mlops(repo, "evaluate", MODEL, "--against", "dev", "--against", "staging", "--against", "prod",
                 "--json-dir", str(out))
    assert done.returncode == 1  # prod's stricter gate fails, so the run does
    dev, staging, prod = (json.loads((out / f"{MODEL}--{env}.json").read_text()) for env in ("dev", "staging", "prod"))
    assert dev["passed"] and staging["passed"] and not prod["passed"]
    assert dev["candidate"]["version"] == candidate and staging["baseline"]["version"] == baseline
    assert dev["candidate"]["metrics"] == staging["candidate"]["metrics"] == prod["candidate"]["metrics"]
    assert staging["delta_intervals"] == prod["delta_intervals"]  # one scoring, one resampling of the same rows
    both = mlops(repo, "evaluate", MODEL, "--against", "dev", "--against", "prod", "--json-out", str(out / "x"))
    assert both.returncode == 2 and "with several --against give --json-dir DIR" in both.stderr

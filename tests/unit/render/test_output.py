"""Writing rendered trees and checking committed ones (stale, missing, extra)."""

from __future__ import annotations

from pathlib import Path

from mlops.render import compare, render, summary, write
from tests.unit.render.render_helpers import REPO_URL


def test_write_then_compare_is_clean(pinned_repo: Path, tmp_path: Path) -> None:
    rendered = render(pinned_repo, repo_url=REPO_URL)
    out = tmp_path / "manifests"
    written = write(out, rendered)
    assert written == [out / "dev", out / "staging", out / "prod"]
    assert (out / "prod" / "digits-cnn" / "deployment.yaml").read_bytes() == \
        rendered[2].files["digits-cnn/deployment.yaml"]
    assert compare(out, rendered, whole_tree=True) == []


def test_compare_names_each_stale_missing_and_extra_file(pinned_repo: Path, tmp_path: Path) -> None:
    rendered = render(pinned_repo, repo_url=REPO_URL)
    out = tmp_path / "m"
    write(out, rendered)
    (out / "dev" / "digits-cnn" / "hpa.yaml").write_text("stale\n")
    (out / "prod" / "namespace.yaml").unlink()
    (out / "prod" / "notes.txt").write_text("x")
    (out / "qa").mkdir()
    (out / "qa" / "a.yaml").write_text("x")
    before = sorted(p.as_posix() for p in out.rglob("*"))
    problems = compare(out, rendered, whole_tree=True)
    lines = [f"{p.path}: {p.message.split(':')[0]}" for p in problems]
    assert lines == [f"{out.as_posix()}/dev/digits-cnn/hpa.yaml: stale",
                     f"{out.as_posix()}/prod/namespace.yaml: missing",
                     f"{out.as_posix()}/prod/notes.txt: extra",
                     f"{out.as_posix()}/qa/a.yaml: extra"]
    assert "mlops render --env dev --out" in problems[0].message
    assert sorted(p.as_posix() for p in out.rglob("*")) == before  # nothing written
    # without whole_tree, directories of other environments are not looked at
    assert len(compare(out, rendered)) == 3


def test_model_only_write_leaves_the_rest_alone(pinned_repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "m"
    write(out, render(pinned_repo, repo_url=REPO_URL))
    (out / "dev" / "cancer-mlp" / "hpa.yaml").write_text("mine\n")
    (out / "dev" / "digits-cnn" / "hpa.yaml").write_text("stale\n")
    only = render(pinned_repo, ["dev"], "digits-cnn")
    write(out, only, "digits-cnn")
    assert (out / "dev" / "cancer-mlp" / "hpa.yaml").read_text() == "mine\n"
    assert compare(out, only, "digits-cnn") == []
    assert (out / "dev" / "kustomization.yaml").is_file()


def test_summary_lines(pinned_repo: Path) -> None:
    lines = summary(Path("build/manifests"), render(pinned_repo, repo_url=REPO_URL))
    assert lines[0] == ("dev: 2 models (cancer-mlp@20250101-aaaaaaaa, digits-cnn@20250102-bbbbbbbb), 16 files "
                        "→ build/manifests/dev")
    assert lines[1] == ("staging: no models pinned; rendered only the namespace and kustomization "
                        "→ build/manifests/staging")

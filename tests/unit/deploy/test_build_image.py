"""``mlops build-image``: the verb's logic and CLI without an engine (the context exporter), and its errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlops.adapters.scm import repository_url as source_url
from mlops.core.errors import UserError
from mlops.core.spec.runtime import RuntimeConfig
from mlops.deploy import image, wheelhouse
from mlops.deploy.image import BuildRequest, build_image
from mlops.validate.validate import load_valid
from tests.conftest import ROOT, run_cli
from tests.unit.deploy.versions import Version

SINK_EXTRAS = ["fsspec", "s3fs"]  # the example prod writes its prediction log to s3://
EXPECTED = ["Dockerfile", "artifact.sha256", "artifact/MODEL_CARD.md", "artifact/metrics.json",
            "artifact/program.pt2", "artifact/signature.json", "record.yaml", "serving.json"]


@pytest.fixture
def wheels(tmp_path: Path) -> Path:
    """A wheelhouse for this environment's lock, laid out as scripts/build_wheelhouse.sh leaves it.

    The wheels are placeholders with the right names (nothing installs them here), plus one stray wheel
    that is not in the lock and must stay out of the context.
    """
    house = tmp_path / "wheelhouse"
    (house / "deps").mkdir(parents=True)
    pins = wheelhouse.lock(wheelhouse.serving_requirements(SINK_EXTRAS))
    (house / "deps" / wheelhouse.LOCK).write_text(wheelhouse.lock_text(pins))
    for name, version in pins.items():
        (house / "deps" / f"{name.replace('-', '_')}-{version}-py3-none-any.whl").write_bytes(b"wheel")
    (house / "deps" / "stray-1.0-py3-none-any.whl").write_bytes(b"wheel")
    (house / "mlops").mkdir()
    (house / "mlops" / "mlops_gitops-0.1.0-py3-none-any.whl").write_bytes(b"wheel")
    return house


@pytest.fixture
def no_source_tree(monkeypatch: pytest.MonkeyPatch) -> None:
    """Use the wheelhouse's mlops wheel instead of building one from the source tree (keeps these tests fast)."""
    monkeypatch.setattr(wheelhouse, "source_tree", lambda: None)


def _request(v: Version, wheels: Path, **kw: object) -> BuildRequest:
    args: dict[str, object] = {"ref": v.ref, "root": v.repo, "artifact": v.artifact, "wheelhouse": wheels}
    args.update(kw)
    return BuildRequest(**args)  # type: ignore[arg-type]


def _export(v: Version, wheels: Path, out: Path, **kw: object) -> image.ImageResult:
    from mlops.adapters.image.context import ContextExporter

    return build_image(_request(v, wheels, **kw), ContextExporter(out), load_valid(v.repo), log=lambda _: None)


@pytest.mark.usefixtures("no_source_tree")
def test_context_holds_exactly_the_files_the_dockerfile_copies(recorded: Version, wheels: Path,
                                                               tmp_path: Path) -> None:
    (recorded.repo / ".env").write_text("GITHUB_TOKEN=ghp_secret\n")
    out = tmp_path / "ctx"
    result = _export(recorded, wheels, out)
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert [f for f in files if not f.startswith("wheels/")] == EXPECTED
    pins = wheelhouse.lock(wheelhouse.serving_requirements(SINK_EXTRAS))
    assert sorted(f for f in files if f.startswith("wheels/deps/")) == sorted(
        [f"wheels/deps/{n.replace('-', '_')}-{v}-py3-none-any.whl" for n, v in pins.items()]
        + ["wheels/deps/requirements.lock"])
    assert (out / "wheels/deps/requirements.lock").read_text() == wheelhouse.lock_text(pins)
    assert "wheels/mlops/mlops_gitops-0.1.0-py3-none-any.whl" in files
    assert result.context_files == files and result.context == str(out)
    assert not any("ghp_secret" in p.read_bytes().decode("utf-8", "replace") for p in out.rglob("*") if p.is_file())
    assert (out / "record.yaml").read_bytes() == recorded.record_file.read_bytes()
    assert (out / "artifact" / "program.pt2").stat().st_mode & 0o777 == 0o644
    assert result.tag == f"localhost:5000/mlops/digits-cnn:{recorded.version}"
    assert result.digest is None and result.artifact_digest == recorded.digest


@pytest.mark.usefixtures("no_source_tree")
def test_baked_serving_config_is_a_valid_runtime_config(recorded: Version, wheels: Path, tmp_path: Path) -> None:
    _export(recorded, wheels, tmp_path / "ctx")
    config = RuntimeConfig.model_validate(json.loads((tmp_path / "ctx" / "serving.json").read_text()), strict=False)
    assert (config.model, config.version, config.artifact_digest) == ("digits-cnn", recorded.version, recorded.digest)
    assert config.prediction_log.sink.startswith("/tmp/"), "the image's only writable path is /tmp"


@pytest.mark.usefixtures("no_source_tree")
def test_dockerfile_labels_come_from_the_record(recorded: Version, wheels: Path, tmp_path: Path) -> None:
    _export(recorded, wheels, tmp_path / "ctx", source="https://x-access-token:abc@github.com/acme/models.git",
            base_image="mlops-base:bookworm", registry="127.0.0.1:5000/team")
    text = (tmp_path / "ctx" / "Dockerfile").read_text()
    assert 'org.opencontainers.image.created="2025-01-02T03:04:05Z"' in text
    assert 'org.opencontainers.image.revision="0123456789abcdef0123456789abcdef01234567"' in text
    assert 'org.opencontainers.image.source="https://github.com/acme/models"' in text
    assert f'mlops.dev/artifact-digest="{recorded.digest}"' in text
    assert "abc@" not in text and "FROM mlops-base:bookworm AS deps" in text


@pytest.mark.parametrize(("url", "clean"), [
    ("https://user:tok@github.com/acme/m.git", "https://github.com/acme/m"),
    ("git@github.com:acme/m.git", "https://github.com/acme/m"),
    ("https://github.com/acme/m", "https://github.com/acme/m"),
])
def test_source_url_never_carries_credentials(tmp_path: Path, url: str, clean: str) -> None:
    assert source_url(tmp_path, url) == clean


def test_source_url_from_github_actions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.com")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/models")
    assert source_url(tmp_path, None) == "https://github.com/acme/models"


@pytest.mark.usefixtures("no_source_tree")
def test_tampered_artifact_is_refused_before_any_build(recorded: Version, wheels: Path, tmp_path: Path) -> None:
    (recorded.artifact / "program.pt2").write_bytes(b"tampered")
    with pytest.raises(UserError) as err:
        _export(recorded, wheels, tmp_path / "ctx")
    assert "program.pt2" in str(err.value) and "tampered" in str(err.value)
    assert str(err.value).startswith(f"models/digits-cnn/versions/{recorded.version}.yaml:1:1:")
    assert not (tmp_path / "ctx").exists()


@pytest.mark.usefixtures("no_source_tree")
def test_artifact_from_a_file_uri_record_location(recorded: Version, wheels: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    store = tmp_path / "store" / "digits-cnn" / recorded.version
    shutil.copytree(recorded.artifact, store)
    repo = load_valid(recorded.repo)
    record = repo.records["digits-cnn"][recorded.version].spec
    moved = record.model_copy(update={"artifact": record.artifact.model_copy(update={"uri": store.as_uri()})})
    request = _request(recorded, wheels, artifact=None)
    assert image.fetch_artifact(request, moved, "r.yaml") == store
    odd = record.model_copy(update={"artifact": record.artifact.model_copy(update={"uri": "s3://b/x"})})
    with pytest.raises(UserError, match=r"names no store this installation reads; expected dvc://"):
        image.fetch_artifact(request, odd, "r.yaml")


def test_cli_context_only_builds_the_mlops_wheel_from_the_source_tree(recorded: Version, wheels: Path,
                                                                      tmp_path: Path) -> None:
    shutil.rmtree(wheels / "mlops")
    out = tmp_path / "ctx"
    res = run_cli("build-image", recorded.ref, "--repo", str(recorded.repo), "--artifact", str(recorded.artifact),
                  "--wheelhouse", str(wheels), "--context-only", str(out), "--json")
    assert res.code == 0, res.err
    result = json.loads(res.out)
    assert result["context"] == str(out) and result["digest"] is None
    wheel = sorted((out / "wheels" / "mlops").glob("*.whl"))
    assert [w.name for w in wheel] == ["mlops_gitops-0.1.0-py3-none-any.whl"]


@pytest.mark.parametrize(("args", "code", "message"), [
    (["digits-cnn"], 2, "is not MODEL@VERSION"),
    (["nope@20250102-00000000"], 1, "no model named 'nope'"),
    (["digits-cnn@20990101-00000000"], 1, "no version '20990101-00000000' of model 'digits-cnn'"),
    (["{ref}", "--pin", "dev"], 2, "--pin needs --push"),
    (["{ref}", "--pin", "qa", "--push"], 1, "no environment named 'qa'"),
    (["{ref}", "--registry", "Bad Registry"], 2, "is not HOST[:PORT]/PATH"),
    (["{ref}", "--context-only", "{out}", "--push"], 2, "--context-only builds nothing to push"),
    (["{ref}", "--artifact", "{missing}"], 1, "does not exist"),
])
def test_cli_errors(recorded: Version, tmp_path: Path, args: list[str], code: int, message: str) -> None:
    args = [a.format(ref=recorded.ref, missing=tmp_path / "missing", out=tmp_path / "out") for a in args]
    if "--artifact" not in args:
        args += ["--artifact", str(recorded.artifact)]
    if "--context-only" not in args and "--push" not in args:
        args += ["--context-only", str(tmp_path / "out")]
    res = run_cli("build-image", *args, "--repo", str(recorded.repo))
    assert res.code == code, res.err
    assert message in res.err
    assert "Traceback" not in res.err
    assert not (tmp_path / "out").exists()


def test_cli_without_an_engine_says_so(recorded: Version, wheels: Path) -> None:
    env = {**os.environ, "DOCKER_HOST": "unix:///nonexistent/docker.sock"}
    proc = subprocess.run([sys.executable, "-m", "mlops", "build-image", recorded.ref, "--repo", str(recorded.repo),
                           "--artifact", str(recorded.artifact), "--wheelhouse", str(wheels)],
                          cwd=ROOT, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert proc.returncode == 1
    assert "docker:1:1: no Docker engine answers at unix:///nonexistent/docker.sock" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_image_carries_what_each_cluster_environments_sink_needs(example_repo: Path) -> None:
    from mlops.core.repo import load_repository
    from mlops.deploy.image import image_sink_requirements

    # prod writes to s3:// (dev and staging are served locally, from this machine's directories)
    assert image_sink_requirements(load_repository(example_repo), "digits-cnn") == ["fsspec", "s3fs"]
    prod = example_repo / "environments" / "prod.yaml"
    prod.write_text(prod.read_text().replace("s3://mlops-prod-data/predictions", "gs://b/p"))
    spec = example_repo / "models" / "digits-cnn" / "model.yaml"
    spec.write_text(spec.read_text().replace("format: jsonl", "format: parquet"))
    assert image_sink_requirements(load_repository(example_repo), "digits-cnn") == ["fsspec", "gcsfs", "pyarrow"]

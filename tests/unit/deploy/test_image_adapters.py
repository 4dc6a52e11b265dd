"""The ImageBuilder implementations: how the Docker one reads the engine's JSON stream, and the context exporter.

The engine's side is replayed from recorded message shapes (the real engine runs in tests/integration/docker).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlops.adapters.image import Built, ImageError
from mlops.adapters.image.context import ContextExporter
from mlops.adapters.image.docker import DockerImageBuilder

DIGEST = "sha256:" + "e6" * 32


class Replay:
    """Answers build/push with recorded chunks; remembers how far they were read."""

    def __init__(self, chunks: list[dict[str, Any]]) -> None:
        self.chunks = chunks
        self.read = 0
        self.kwargs: dict[str, Any] = {}

    def _stream(self) -> Iterator[dict[str, Any]]:
        for chunk in self.chunks:
            self.read += 1
            yield chunk

    def build(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        self.kwargs = kwargs
        return self._stream()

    def push(self, repository: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        self.kwargs = {"repository": repository, **kwargs}
        return self._stream()

    def inspect_image(self, ref: str) -> dict[str, Any]:
        return {"Id": "sha256:" + "11" * 32}

    def close(self) -> None:
        pass


def _builder(replay: Replay) -> DockerImageBuilder:
    builder = DockerImageBuilder()
    builder._api = replay
    return builder


def test_build_streams_plain_lines_without_network_proxy_or_build_args(tmp_path: Path) -> None:
    replay = Replay([{"stream": "Step 1/2 : FROM base\n"}, {"stream": "\x1b[1mfetching\x1b[0m\r50%\r100%\n"},
                     {"aux": {"ID": "sha256:" + "ab" * 32}}, {"stream": "Successfully built abab\n"}])
    lines: list[str] = []
    built = _builder(replay).build(tmp_path, "r/m:v", lines.append)
    assert built == Built(tag="r/m:v", image_id="sha256:" + "ab" * 32)
    assert lines == ["Step 1/2 : FROM base", "fetching", "50%", "100%", "Successfully built abab"]
    assert replay.kwargs["network_mode"] == "none" and replay.kwargs["use_config_proxy"] is False
    assert "buildargs" not in replay.kwargs and replay.kwargs["pull"] is False


def test_build_error_carries_the_last_lines_and_reads_the_stream_to_its_end(tmp_path: Path) -> None:
    replay = Replay([{"stream": f"line {i}\n"} for i in range(40)]
                    + [{"error": "boom", "errorDetail": {"message": "The command returned a non-zero code: 1"}},
                       {"stream": "after\n"}])
    with pytest.raises(ImageError) as err:
        _builder(replay).build(tmp_path, "r/m:v", lambda _: None)
    assert str(err.value) == "docker build failed: The command returned a non-zero code: 1"
    assert err.value.tail[-1] == "after" and err.value.tail[0] == "line 16" and len(err.value.tail) == 25
    assert replay.read == len(replay.chunks)


def test_push_reports_the_registry_digest_one_line_per_layer_state() -> None:
    replay = Replay([{"status": "The push refers to repository [r/m]"},
                     {"status": "Preparing", "progressDetail": {}, "id": "aa"},
                     {"status": "Pushing", "progressDetail": {"current": 1, "total": 9}, "id": "aa"},
                     {"status": "Pushing", "progressDetail": {"current": 9, "total": 9}, "id": "aa"},
                     {"status": "Pushed", "progressDetail": {}, "id": "aa"},
                     {"status": f"v: digest: {DIGEST} size: 1570"},
                     {"progressDetail": {}, "aux": {"Tag": "v", "Digest": DIGEST, "Size": 1570}}])
    lines: list[str] = []
    pushed = _builder(replay).push(Built("r/m:v", "sha256:" + "11" * 32), lines.append)
    assert pushed.digest == DIGEST and pushed.image_id == "sha256:" + "11" * 32
    assert lines == ["The push refers to repository [r/m]", "aa: Preparing", "aa: Pushed",
                     f"v: digest: {DIGEST} size: 1570"]
    assert replay.kwargs == {"repository": "r/m", "tag": "v", "stream": True, "decode": True}


@pytest.mark.parametrize(("chunks", "message"), [
    ([{"status": "Preparing", "id": "aa"}, {"error": "denied", "errorDetail": {"message": "denied: no access"}}],
     "docker push r/m:v failed: denied: no access"),
    ([{"status": "Pushed", "id": "aa"}], "docker push r/m:v reported no manifest digest"),
])
def test_push_failures(chunks: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(ImageError, match=message):
        _builder(Replay(chunks)).push(Built("r/m:v"), lambda _: None)


def test_no_engine_is_a_clear_reason() -> None:
    with DockerImageBuilder(base_url="unix:///nonexistent/docker.sock") as builder:
        reason = builder.unavailable()
    assert reason is not None and reason.startswith("no Docker engine answers at unix:///nonexistent/docker.sock")
    assert "scripts/docker_bootstrap.sh" in reason


def test_context_exporter_replaces_the_directory_and_cannot_push(tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM scratch\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / "stale").write_text("old")
    exporter = ContextExporter(out)
    built = exporter.build(ctx, "r/m:v", lambda _: None)
    assert built.location == out and sorted(p.name for p in out.iterdir()) == ["Dockerfile"]
    with pytest.raises(ImageError, match="builds nothing to push"):
        exporter.push(built, lambda _: None)
    (tmp_path / "file").write_text("")
    assert ContextExporter(tmp_path / "file").unavailable() == f"{tmp_path / 'file'} exists and is not a directory"

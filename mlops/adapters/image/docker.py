"""ImageBuilder on a Docker engine, through the docker SDK's low-level API.

Builds run with ``network_mode=none`` (the context carries everything; nothing downloads), without
build arguments and without the client's proxy settings (``use_config_proxy=False``: a proxy URL with
credentials would otherwise land in the image's build arguments). Log lines are streamed as plain
lines; on failure the last lines come back in the error.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from mlops.adapters.image import Built, ImageError, Log

TAIL = 25
BUILD_TIMEOUT_S = 1800
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_DIGEST = re.compile(r"digest: (sha256:[0-9a-f]{64})")


def _lines(chunks: Iterable[dict[str, Any]], log: Log, tail: deque[str]) -> Iterator[dict[str, Any]]:
    """Print each ``stream`` text as plain lines (no ANSI, no carriage-return progress) and yield every chunk."""
    for chunk in chunks:
        text = chunk.get("stream")
        if isinstance(text, str):
            for line in _ANSI.sub("", text).replace("\r", "\n").splitlines():
                if line.strip():
                    tail.append(line.rstrip())
                    log(line.rstrip())
        yield chunk


class DockerImageBuilder:
    """A Docker engine: ``DOCKER_HOST`` and friends are honoured (``docker.from_env``)."""

    name = "docker"

    def __init__(self, base_url: str | None = None, timeout: int = BUILD_TIMEOUT_S) -> None:
        self._base_url = base_url
        self._timeout = timeout
        self._api: Any = None

    def _client(self) -> Any:
        if self._api is None:
            try:
                import docker
            except ImportError as exc:  # pragma: no cover - docker is a dependency
                raise ImageError("the docker SDK is not installed (pip install docker)") from exc
            try:
                if self._base_url:
                    self._api = docker.APIClient(base_url=self._base_url, version="auto", timeout=self._timeout)
                else:
                    self._api = docker.from_env(version="auto", timeout=self._timeout).api
                self._api.ping()
            except Exception as exc:
                self._api = None
                where = self._base_url or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
                raise ImageError(f"no Docker engine answers at {where} ({_short(exc)}); start dockerd "
                                 "(scripts/docker_bootstrap.sh does) or set DOCKER_HOST") from None
        return self._api

    def unavailable(self) -> str | None:
        try:
            self._client()
        except ImageError as exc:
            return str(exc)
        return None

    def build(self, context: Path, tag: str, log: Log) -> Built:
        api = self._client()
        tail: deque[str] = deque(maxlen=TAIL)
        image_id: str | None = None
        try:
            stream = api.build(path=str(context), tag=tag, rm=True, forcerm=True, pull=False, decode=True,
                               network_mode="none", use_config_proxy=False)
            for chunk in _lines(stream, log, tail):
                if "error" in chunk or "errorDetail" in chunk:
                    message = (chunk.get("errorDetail") or {}).get("message") or chunk.get("error") or "?"
                    raise ImageError(f"docker build failed: {message.strip()}", list(tail))
                aux = chunk.get("aux")
                if isinstance(aux, dict) and isinstance(aux.get("ID"), str):
                    image_id = aux["ID"]
        except ImageError:
            raise
        except Exception as exc:
            raise ImageError(f"docker build failed: {_short(exc)}", list(tail)) from None
        if image_id is None:
            image_id = api.inspect_image(tag)["Id"]
        return Built(tag=tag, image_id=image_id)

    def push(self, built: Built, log: Log) -> Built:
        api = self._client()
        repository, _, tag = built.tag.rpartition(":")
        digest: str | None = None
        tail: deque[str] = deque(maxlen=TAIL)
        last_status: dict[str, str] = {}
        try:
            for chunk in api.push(repository, tag=tag, stream=True, decode=True):
                if "error" in chunk or "errorDetail" in chunk:
                    message = (chunk.get("errorDetail") or {}).get("message") or chunk.get("error") or "?"
                    raise ImageError(f"docker push {built.tag} failed: {message.strip()}", list(tail))
                aux = chunk.get("aux")
                if isinstance(aux, dict) and isinstance(aux.get("Digest"), str):
                    digest = aux["Digest"]
                status = chunk.get("status")
                if isinstance(status, str) and not chunk.get("progressDetail"):
                    layer = str(chunk.get("id", ""))
                    if last_status.get(layer) != status:  # one line per layer state, no progress bars
                        last_status[layer] = status
                        line = f"{layer}: {status}" if layer else status
                        tail.append(line)
                        log(line)
                        found = _DIGEST.search(status)
                        if found and digest is None:
                            digest = found.group(1)
        except ImageError:
            raise
        except Exception as exc:
            raise ImageError(f"docker push {built.tag} failed: {_short(exc)}", list(tail)) from None
        if digest is None:
            raise ImageError(f"docker push {built.tag} reported no manifest digest", list(tail))
        return Built(tag=built.tag, image_id=built.image_id, digest=digest)

    def labels(self, ref: str) -> dict[str, str]:
        """The labels of a local image (for checks and tests)."""
        config = self._client().inspect_image(ref).get("Config") or {}
        return dict(config.get("Labels") or {})


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    with contextlib.suppress(ValueError, AttributeError):  # docker's API errors carry a JSON body
        text = json.loads(text).get("message", text)
    return " ".join(text.split())[:300]

"""ImageBuilder on a Docker engine, through the docker SDK's low-level API.

Builds run with ``network_mode=none`` (the context carries everything; nothing downloads), without
build arguments and without the client's proxy settings (``use_config_proxy=False``: a proxy URL with
credentials would otherwise land in the image's build arguments). Log lines are streamed as plain
lines; on failure the last lines come back in the error.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from mlops.adapters.image import Built, ImageError, Log

TAIL = 25
MIN_API = "1.24"  # the oldest API the docker SDK speaks; enough to ask the engine for its own
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
            kwargs: dict[str, Any] = ({"base_url": self._base_url} if self._base_url
                                      else docker.utils.kwargs_from_env())
            where = str(kwargs.get("base_url") or "unix:///var/run/docker.sock")
            refused = _unix_refused(where)  # docker-py leaks the socket of a failed unix connect: try it first
            if refused:
                raise ImageError(f"no Docker engine answers at {where} ({refused}); start dockerd "
                                 "(scripts/docker_bootstrap.sh does) or set DOCKER_HOST")
            # version negotiation by hand: a client built with version="auto" leaks its socket when no engine answers
            probe = docker.APIClient(version=MIN_API, timeout=10, **kwargs)
            try:
                version = probe.version(api_version=False)["ApiVersion"]
                self._api = docker.APIClient(version=min(version, docker.constants.DEFAULT_DOCKER_API_VERSION,
                                                         key=_api_key), timeout=self._timeout, **kwargs)
            except Exception as exc:
                raise ImageError(f"no Docker engine answers at {where} ({_short(exc)}); start dockerd "
                                 "(scripts/docker_bootstrap.sh does) or set DOCKER_HOST") from None
            finally:
                probe.close()
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
        error: str | None = None
        try:
            stream = api.build(path=str(context), tag=tag, rm=True, forcerm=True, pull=False, decode=True,
                               network_mode="none", use_config_proxy=False)
            for chunk in _lines(stream, log, tail):  # read to the end: an abandoned stream leaks its socket
                if ("error" in chunk or "errorDetail" in chunk) and error is None:
                    error = (chunk.get("errorDetail") or {}).get("message") or chunk.get("error") or "?"
                aux = chunk.get("aux")
                if isinstance(aux, dict) and isinstance(aux.get("ID"), str):
                    image_id = aux["ID"]
        except Exception as exc:
            raise ImageError(f"docker build failed: {_short(exc)}", list(tail)) from None
        if error is not None:
            raise ImageError(f"docker build failed: {error.strip()}", list(tail))
        if image_id is None:
            image_id = api.inspect_image(tag)["Id"]
        return Built(tag=tag, image_id=image_id)

    def push(self, built: Built, log: Log) -> Built:
        api = self._client()
        repository, _, tag = built.tag.rpartition(":")
        digest: str | None = None
        tail: deque[str] = deque(maxlen=TAIL)
        last_status: dict[str, str] = {}
        error: str | None = None
        try:
            for chunk in api.push(repository, tag=tag, stream=True, decode=True):  # read to the end
                if ("error" in chunk or "errorDetail" in chunk) and error is None:
                    error = (chunk.get("errorDetail") or {}).get("message") or chunk.get("error") or "?"
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
        except Exception as exc:
            raise ImageError(f"docker push {built.tag} failed: {_short(exc)}", list(tail)) from None
        if error is not None:
            raise ImageError(f"docker push {built.tag} failed: {error.strip()}", list(tail))
        if digest is None:
            raise ImageError(f"docker push {built.tag} reported no manifest digest", list(tail))
        return Built(tag=built.tag, image_id=built.image_id, digest=digest)

    def close(self) -> None:
        if self._api is not None:
            self._api.close()
            self._api = None

    def __enter__(self) -> DockerImageBuilder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def labels(self, ref: str) -> dict[str, str]:
        """The labels of a local image (for checks and tests)."""
        config = self._client().inspect_image(ref).get("Config") or {}
        return dict(config.get("Labels") or {})


def _unix_refused(url: str) -> str | None:
    """Why a ``unix://`` engine socket refuses a connection (None when it accepts, or for other schemes)."""
    for prefix in ("unix://", "http+unix://"):
        if url.startswith(prefix):
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(5)
                try:
                    sock.connect(url.removeprefix(prefix))
                except OSError as exc:
                    return exc.strerror or str(exc)
    return None


def _api_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    with contextlib.suppress(ValueError, AttributeError):  # docker's API errors carry a JSON body
        text = json.loads(text).get("message", text)
    return " ".join(text.split())[:300]

"""The local stand-in for a Kubernetes Service: a stable port that forwards each request to the current backend.

``python -I -m mlops.adapters.serving.proxy STATE PORT`` serves 127.0.0.1:PORT. Every request goes to the backend
named in the JSON state file (``{"backend": {"port": …, "version": …}}``), re-read whenever the file changes, so
a switch is one atomic rename by ``mlops deploy``: requests already forwarded finish on the old backend, the next
ones go to the new. ``GET /-/mlops/status`` says which backend is current and how many requests each backend
still has in flight, which is how the deployer knows when the old one is drained and may be stopped.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import httpx

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
STATUS_PATH = "/-/mlops/status"
HOP_BY_HOP = {b"connection", b"keep-alive", b"proxy-authenticate", b"proxy-authorization", b"te", b"trailers",
              b"transfer-encoding", b"upgrade", b"host", b"content-length"}


class Router:
    """An ASGI app that forwards to the backend in ``state`` (a JSON file) and counts requests in flight."""

    def __init__(self, state: Path) -> None:
        self.state = state
        self.mtime = -1.0
        self.backend: dict[str, Any] = {}
        self.inflight: Counter[int] = Counter()
        self.served: Counter[int] = Counter()
        self.client = httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=5.0),
                                        limits=httpx.Limits(max_connections=512, max_keepalive_connections=128))

    def _reload(self) -> None:
        try:
            mtime = self.state.stat().st_mtime_ns
            if mtime != self.mtime:
                self.backend = dict(json.loads(self.state.read_text("utf-8")).get("backend") or {})
                self.mtime = mtime
        except (OSError, ValueError):
            pass  # keep the last good backend: a half-written state file is never read (writes are atomic)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        self._reload()
        if scope["path"] == STATUS_PATH:
            await _answer(send, 200, json.dumps({"backend": self.backend, "inflight": dict(self.inflight),
                                                 "served": dict(self.served)}).encode())
            return
        port = int(self.backend.get("port") or 0)
        if not port:
            await _answer(send, 503, b'{"error": "no backend"}')
            return
        body = bytearray()
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in HOP_BY_HOP]
        query = scope.get("query_string", b"").decode()
        url = f"http://127.0.0.1:{port}{scope['path']}" + (f"?{query}" if query else "")
        self.inflight[port] += 1
        try:
            response = await self.client.request(scope["method"], url, headers=headers, content=bytes(body))
        except httpx.HTTPError as exc:
            await _answer(send, 502, json.dumps({"error": f"backend {port}: {type(exc).__name__}"}).encode())
            return
        finally:
            self.inflight[port] -= 1
        self.served[port] += 1
        out = [(k.encode(), v.encode()) for k, v in response.headers.items() if k.encode().lower() not in HOP_BY_HOP]
        await send({"type": "http.response.start", "status": response.status_code,
                    "headers": [*out, (b"content-length", str(len(response.content)).encode())]})
        await send({"type": "http.response.body", "body": response.content})


async def _answer(send: Send, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def main(argv: list[str]) -> int:
    import uvicorn

    state, port = Path(argv[0]), int(argv[1])
    config = uvicorn.Config(Router(state), host="127.0.0.1", port=port, lifespan="off", log_level="warning",
                            access_log=False, loop="asyncio", timeout_graceful_shutdown=30)
    server = uvicorn.Server(config)
    asyncio.run(server.serve())
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main(sys.argv[1:]))

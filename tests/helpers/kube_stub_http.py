"""The HTTP face of ``kube_stub.KubeStub``: routes, content types and Status errors of kube-apiserver.

Part of the test stand-in for an API server (see ``kube_stub``); this module only parses requests,
records them and answers from the stub's store.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import sys
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

KINDS = {("batch/v1", "jobs"): "Job", ("v1", "services"): "Service", ("v1", "configmaps"): "ConfigMap",
         ("v1", "serviceaccounts"): "ServiceAccount", ("v1", "pods"): "Pod"}
# What the serving stub adds (kube_serving_stub): the objects `mlops render` produces for an environment.
SERVING_KINDS = {("v1", "namespaces"): "Namespace", ("apps/v1", "deployments"): "Deployment",
                 ("autoscaling/v2", "horizontalpodautoscalers"): "HorizontalPodAutoscaler",
                 ("policy/v1", "poddisruptionbudgets"): "PodDisruptionBudget",
                 ("networking.k8s.io/v1", "networkpolicies"): "NetworkPolicy",
                 ("argoproj.io/v1alpha1", "rollouts"): "Rollout",
                 ("argoproj.io/v1alpha1", "analysistemplates"): "AnalysisTemplate",
                 ("monitoring.coreos.com/v1", "servicemonitors"): "ServiceMonitor",
                 ("monitoring.coreos.com/v1", "prometheusrules"): "PrometheusRule"}
PATH = re.compile(r"^/(?:api/(?P<core>v1)|apis/(?P<group>[a-z0-9.]+/v[0-9a-z]+))/namespaces/(?P<ns>[a-z0-9-]+)/"
                  r"(?P<plural>[a-z]+)(?:/(?P<name>[a-z0-9.-]+)(?:/(?P<sub>status|log))?)?$")
CLUSTER_PATH = re.compile(r"^/api/v1/(?P<plural>namespaces)(?:/(?P<name>[a-z0-9-]+))?$")
PROXY_PATH = re.compile(r"^/api/v1/namespaces/(?P<ns>[a-z0-9-]+)/services/(?P<name>[a-z0-9-]+):(?P<port>[a-z0-9-]+)"
                        r"/proxy(?P<rest>/.*)$")
class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message

    def status(self) -> dict[str, Any]:
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": self.message, "reason": self.reason, "code": self.code}


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    content_type: str
    body: Any


def _merge(base: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch (also how this stub approximates a server-side apply of owned fields)."""
    if not isinstance(patch, dict) or not isinstance(base, dict):
        return copy.deepcopy(patch)
    out = dict(base)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = _merge(base.get(key), value)
    return out


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up (a closed keep-alive connection, a log stream it stopped reading) is normal."""
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


def make_server(stub: Any) -> ThreadingHTTPServer:
    """A threading HTTP server on 127.0.0.1 (a free port) that answers for ``stub``."""
    server = _Server(("127.0.0.1", 0), _handler(stub))
    server.daemon_threads = True
    return server


def _handler(stub: Any) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

        def _send(self, code: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> tuple[str, Any]:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
            if not raw:
                return ctype, None
            try:
                return ctype, (yaml.safe_load(raw) if ctype == "application/apply-patch+yaml" else json.loads(raw))
            except (ValueError, yaml.YAMLError) as exc:
                raise ApiError(400, "BadRequest", f"the body of the request could not be decoded: {exc}") from exc

        def _dispatch(self, method: str) -> None:
            url = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            try:
                ctype, body = self._body()
                stub.requests.append(Recorded(method, url.path, query, ctype, body))
                if stub.token and self.headers.get("Authorization") != f"Bearer {stub.token}":
                    raise ApiError(401, "Unauthorized", "Unauthorized")
                if url.path == "/version" and method == "GET":
                    return self._send(200, {"major": "1", "minor": "31", "gitVersion": "v1.31.0-stub",
                                            "platform": "linux/amd64"})
                proxy = PROXY_PATH.match(url.path)
                if proxy and hasattr(stub, "proxy"):
                    code, data = stub.proxy(proxy["ns"], proxy["name"], method, proxy["rest"], body)
                    return self._send(code, data)
                cluster = CLUSTER_PATH.match(url.path)
                if cluster and ("v1", "namespaces") in stub.kinds:
                    return self._route(method, {"plural": "namespaces", "ns": "", "name": cluster["name"],
                                                "sub": None, "core": "v1", "group": None}, query, ctype, body)
                match = PATH.match(url.path)
                if not match or (match["core"] or match["group"], match["plural"]) not in stub.kinds:
                    raise ApiError(404, "NotFound", "the server could not find the requested resource")
                self._route(method, match, query, ctype, body)
            except ApiError as exc:
                self._send(exc.code, exc.status())

        def _route(self, method: str, m: Any, query: dict[str, str], ctype: str, body: Any) -> None:
            plural, ns, name, sub = m["plural"], m["ns"], m["name"], m["sub"]
            if sub == "log" and plural == "pods" and method == "GET":
                tail = query.get("tailLines")
                return self._stream_log(ns, name, query.get("follow") == "true", int(tail) if tail else None)
            if name is None:
                if method == "GET":
                    api_version = m["core"] or m["group"]
                    items = stub.list(plural, ns, query.get("labelSelector", ""))
                    return self._send(200, {"kind": f"{stub.kinds[(api_version, plural)]}List",
                                            "apiVersion": api_version,
                                            "metadata": {"resourceVersion": str(next(stub._rv))}, "items": items})
                if method == "POST" and plural != "pods":
                    if ctype not in ("", "application/json"):  # kube-apiserver reads no type as its first, JSON
                        raise ApiError(415, "UnsupportedMediaType", f"the body of the request was in an unknown "
                                       f"format - accepted media types include: application/json (got {ctype!r})")
                    return self._send(201, stub.create(plural, ns, body))
                raise ApiError(405, "MethodNotAllowed", f"{method} is not supported on {plural}")
            if method == "GET":
                obj = stub.get(plural, ns, name)
                if obj is None:
                    raise ApiError(404, "NotFound", f'{plural} "{name}" not found')
                return self._send(200, obj)
            if method == "DELETE":
                policy = query.get("propagationPolicy") or (body or {}).get("propagationPolicy")
                return self._send(200, stub.delete(plural, ns, name, policy))
            if method == "PUT":
                return self._send(200, stub.update(plural, ns, name, body))
            if method == "PATCH":
                return self._patch(plural, ns, name, query, ctype, body)
            raise ApiError(405, "MethodNotAllowed", f"{method} is not supported")

        def _patch(self, plural: str, ns: str, name: str, query: dict[str, str], ctype: str, body: Any) -> None:
            existing = stub.get(plural, ns, name)
            if ctype == "application/apply-patch+yaml":
                if not query.get("fieldManager"):
                    raise ApiError(400, "BadRequest", 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: '
                                   "Required value: is required for apply patch")
                if existing is None:
                    return self._send(201, stub.create(plural, ns, body))
                return self._send(200, stub.update(plural, ns, name, _merge(existing, body)))
            if ctype == "application/merge-patch+json":
                if existing is None:
                    raise ApiError(404, "NotFound", f'{plural} "{name}" not found')
                return self._send(200, stub.update(plural, ns, name, _merge(existing, body)))
            raise ApiError(415, "UnsupportedMediaType", f"the body of the request was in an unknown format - "
                           f"accepted media types include: application/apply-patch+yaml, "
                           f"application/merge-patch+json (got {ctype!r})")

        def _stream_log(self, ns: str, name: str, follow: bool, tail: int | None) -> None:
            lines = stub.follow_log(ns, name, follow, tail)
            first = next(lines, None)  # raises ApiError before any header is sent
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for line in itertools.chain([first] if first is not None else [], lines):
                data = (line + "\n").encode()
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")

        def do_GET(self) -> None:
            self._dispatch("GET")

        def do_POST(self) -> None:
            self._dispatch("POST")

        def do_PUT(self) -> None:
            self._dispatch("PUT")

        def do_PATCH(self) -> None:
            self._dispatch("PATCH")

        def do_DELETE(self) -> None:
            self._dispatch("DELETE")

    return Handler

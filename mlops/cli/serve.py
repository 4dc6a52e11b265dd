"""Serve a trained version over the Open Inference Protocol (v2 REST), with Prometheus metrics.

Repo mode (MODEL@VERSION) reads models/<m>/versions/<v>.yaml and the model's serving spec, and fetches
the artifact through its store. Image mode (--artifact, --record, --config) is what the serving image
runs. Either way the artifact's sha256 digest is checked against the version record before anything
loads: a mismatch is one error line, exit 1, and no server. Readiness (/v2/health/ready) turns true
only after warm-up. SIGTERM drains: readiness goes false, new requests get 503, every admitted request
is answered, exit 0.

Endpoints: GET /v2/health/live, /v2/health/ready, /v2, /v2/models/NAME[/versions/V][/ready],
POST /v2/models/NAME[/versions/V]/infer, GET /metrics.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mlops.cli._run import add_repo_argument, repo_root
from mlops.core.errors import UsageError

EXAMPLES = """examples:
  mlops serve digits-cnn@20250101-abcd1234
  mlops serve digits-cnn@20250101-abcd1234 --port 0          (any free port; printed on stderr)
  mlops serve --artifact /opt/mlops/artifact --record /opt/mlops/record.yaml \\
              --config /etc/mlops/serving.json --host 0.0.0.0 --port 8080
  curl -s localhost:8080/v2/models/digits-cnn/infer -d '{"inputs": [{"name": "input",
       "datatype": "FP32", "shape": [1, 64], "data": [0, 0, 5, 13, ...]}]}'"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ref", nargs="?", metavar="MODEL@VERSION", help="the version to serve (repo mode)")
    add_repo_argument(parser)
    parser.add_argument("--artifact", type=Path, metavar="DIR", help="artifact directory (image mode)")
    parser.add_argument("--record", type=Path, metavar="FILE", help="its version record (image mode)")
    parser.add_argument("--config", type=Path, metavar="FILE", help="serving config JSON (image mode; default: "
                                                                    "the record's defaults)")
    parser.add_argument("--env", metavar="ENV", help="repo mode: serve as the environment ENV delivered locally "
                                                     "(its monitoring.predictions is the prediction log's sink)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8080, help="port (default: %(default)s; 0 picks a free one)")
    parser.add_argument("--threads", type=int, metavar="N", help="torch intra-op threads (default: the cgroup "
                                                                 "CPU quota, capped by the affinity mask)")
    parser.add_argument("--drain-grace", type=float, default=0.0, metavar="S",
                        help="after draining on SIGTERM, keep answering 503 for S seconds (default: 0)")


def run(args: argparse.Namespace) -> int:
    from mlops.serve.serve import Options, from_files, from_repo, serve

    image_mode = args.artifact is not None or args.record is not None or args.config is not None
    if image_mode and args.env:
        raise UsageError("--env is for repo mode (MODEL@VERSION); an image's config names its environment")
    if image_mode and args.ref:
        raise UsageError("give either MODEL@VERSION (repo mode) or --artifact/--record (image mode), not both")
    if image_mode:
        if args.artifact is None or args.record is None:
            raise UsageError("image mode needs both --artifact DIR and --record FILE")
        target = from_files(args.artifact, args.record, args.config)
    elif args.ref:
        target = from_repo(repo_root(args.repo), args.ref, environment=args.env)
    else:
        raise UsageError("what to serve? give MODEL@VERSION, or --artifact DIR --record FILE")
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port {args.port}: expected 0 … 65535")
    if args.threads is not None and args.threads < 1:
        raise UsageError(f"--threads {args.threads}: expected at least 1")
    return serve(target, Options(host=args.host, port=args.port, threads=args.threads,
                                 drain_grace_s=max(0.0, args.drain_grace)))

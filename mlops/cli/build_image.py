"""Build the serving image of a recorded version, push it, and print the digest that `mlops render` pins.

The artifact is verified against its version record before the build and again inside the image
(a RUN step checks every file and the manifest digest). Dependencies come from a host-built
wheelhouse (pip --no-index): the build itself needs no network. The image runs `mlops serve` as
UID 10001 with the artifact at /opt/mlops/artifact and the record at /opt/mlops/record.yaml.
Exit status: 0 built (and pushed), 1 bad input or a failed build/push, 2 usage error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from mlops.cli._run import add_repo_argument, repo_root, step_summary

EXAMPLES = """examples:
  mlops build-image digits-cnn@20250101-1a2b3c4d --artifact .mlops/artifacts/digits-cnn/20250101-1a2b3c4d
  mlops build-image digits-cnn@20250101-1a2b3c4d --registry ghcr.io/acme/models --push --pin dev
  mlops build-image digits-cnn@20250101-1a2b3c4d --base-image mlops-base:bookworm --push --json
  mlops build-image digits-cnn@20250101-1a2b3c4d --context-only build/image   # for kaniko / buildah"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from mlops.deploy.image_context import DEFAULT_BASE_IMAGE

    parser.add_argument("ref", metavar="MODEL@VERSION", nargs="?", help="the recorded version to package")
    parser.add_argument("--missing-in", metavar="ENV", help="build (and with --push, push) every version ENV pins "
                                                            "without an image digest, tagged in ENV's registry")
    add_repo_argument(parser)
    parser.add_argument("--base-image", default=DEFAULT_BASE_IMAGE, metavar="IMG",
                        help=f"base image with python3 (≥3.11) and venv (default: {DEFAULT_BASE_IMAGE})")
    parser.add_argument("--registry", metavar="HOST/PATH",
                        help="tag as HOST/PATH/MODEL:VERSION (default: the --pin environment's registry, "
                             "else localhost:5000/mlops)")
    parser.add_argument("--push", action="store_true", help="push the image and print its registry digest")
    parser.add_argument("--pin", metavar="ENV", help="write the pushed digest into environments/ENV.yaml's pin "
                                                     "(which must pin this version); needs --push")
    parser.add_argument("--wheelhouse", type=Path, metavar="DIR",
                        help="wheelhouse with deps/ (built by scripts/build_wheelhouse.sh); default: a cached one")
    parser.add_argument("--find-links", action="append", default=[], metavar="DIR",
                        help="extra wheel directory when the wheelhouse is built (e.g. a CPU torch wheel)")
    parser.add_argument("--artifact", type=Path, metavar="DIR",
                        help="the artifact directory (default: fetched from the artifact store)")
    parser.add_argument("--source", metavar="URL", help="org.opencontainers.image.source (default: from git/CI)")
    parser.add_argument("--context-only", type=Path, metavar="DIR",
                        help="write the build context to DIR instead of building (any OCI builder can build it)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON on stdout (logs go to stderr)")


def run(args: argparse.Namespace) -> int:
    from mlops.adapters.image import open_builder
    from mlops.deploy.image import BuildRequest, build_image
    from mlops.validate.validate import load_valid

    if args.context_only is not None and args.push:
        from mlops.core.errors import UsageError

        raise UsageError("--context-only builds nothing to push; drop --push (or --context-only)")
    root = repo_root(args.repo)
    repo = load_valid(root)
    if args.missing_in:
        env = repo.require_environment(args.missing_in).spec
        refs = [f"{m}@{pin.version}" for m in sorted(env.pins) if (pin := env.pin(m)) and not pin.image]
        registry = args.registry or env.registry
        if not refs:
            print(f"every pin of {args.missing_in} has an image digest: nothing to build")
            return 0
    elif args.ref:
        refs, registry = [args.ref], args.registry
    else:
        from mlops.core.errors import UsageError

        raise UsageError("give MODEL@VERSION (or --missing-in ENV)")
    out = sys.stderr if args.json else sys.stdout

    def log(line: str) -> None:
        print(line, file=out, flush=True)

    builder = open_builder(args.context_only.resolve() if args.context_only is not None else None)
    try:
        for ref in refs:
            request = BuildRequest(ref=ref, root=root, base_image=args.base_image, registry=registry,
                                   push=args.push, wheelhouse=args.wheelhouse, find_links=args.find_links,
                                   artifact=args.artifact, source=args.source, pin=args.pin)
            result = build_image(request, builder, repo, log)
            _print(args, result)
    finally:
        builder.close()
    return 0


def _print(args: argparse.Namespace, result: Any) -> None:
    if args.json:
        print(result.to_json())
    else:
        if result.context:
            print(f"wrote the build context of {result.tag} to {result.context}")
        else:
            print(f"built {result.tag}" + (f" (image id {result.image_id})" if result.image_id else ""))
        if result.digest:
            print(f"pushed {result.reference}")
            print(f"digest {result.digest}")
        if result.pinned:
            print(f"pinned {result.model}: {{version: {result.version}, image: {result.digest}}} in {result.pinned}")
    digest = f"\n\ndigest `{result.digest}`" if result.digest else ""
    step_summary(f"### 🐳 mlops build-image\n\n`{result.tag}`{digest}")

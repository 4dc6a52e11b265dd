"""Ingest delayed ground-truth labels so that monitoring can join them to the prediction log.

A label file is JSON lines or CSV (by extension) with request_id, label, and optionally timestamp
(ISO 8601 or Unix seconds) and row (the sample's index in a multi-row request). request_id is the id
of the inference request (the one the client sent, or the one the server returned). Every line is
checked first and all problems are printed at once (file:line:col); nothing is written unless the
whole file is valid. Valid labels are appended to the sink as one new file; ingesting the same content
again changes nothing. The format is documented in mlops/serve/labels.py.

Where labels go: ``--sink DIR|URL``; else, with ``--env ENV``, ``<monitoring.labels>/<model>`` of that
environment (a directory of the repository or an fsspec URL, credentials from this process's environment);
else ``.mlops/labels/<model>`` in the repository.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mlops.cli._run import add_repo_argument, repo_root
from mlops.core.errors import UsageError, UserError

EXAMPLES = """examples:
  mlops labels ingest labels.csv --model digits-cnn
  mlops labels ingest labels.csv --model digits-cnn --env prod        # prod's monitoring.labels
  mlops labels ingest labels.jsonl --model digits-cnn --sink s3://bucket/labels/digits-cnn

  labels.csv:
    request_id,label,timestamp
    3f9c2a71-17,7,2025-01-01T12:00:00Z"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["ingest"], help="what to do (ingest: validate and append labels)")
    parser.add_argument("file", type=Path, metavar="FILE", help="label file (.jsonl, .ndjson, .json or .csv)")
    parser.add_argument("--model", required=True, metavar="NAME", help="the model the labels belong to")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--sink", metavar="DIR|URL", help="where labels are kept (default: .mlops/labels/MODEL "
                                                         "in the repository)")
    where.add_argument("--env", metavar="ENV", help="keep them where environment ENV's monitoring.labels says "
                                                    "(<labels>/MODEL)")
    add_repo_argument(parser)


def run(args: argparse.Namespace) -> int:
    from mlops.core.repo import load_repository
    from mlops.core.spec.runtime import is_url, label_sink
    from mlops.serve.labels import ingest

    if args.file.suffix.lower() not in {".jsonl", ".ndjson", ".json", ".csv"}:
        raise UsageError(f"{args.file}: expected a .jsonl, .ndjson, .json or .csv label file")
    root = repo_root(args.repo)
    repo = load_repository(root, only_models={args.model})
    if args.model not in repo.model_dirs:
        raise UserError.at("models", f"no model {args.model!r}; expected one of: "
                                     f"{', '.join(repo.model_dirs) or 'none'}")
    repo.require_valid()
    task = repo.model(args.model).task
    sink: str | Path = args.sink or root / ".mlops" / "labels" / args.model
    if args.env:
        env = repo.require_environment(args.env).spec
        sink = label_sink(env.monitoring.labels, args.model)
        sink = sink if is_url(sink) or Path(sink).is_absolute() else root / sink
    done = ingest(args.file, args.model, task, sink, display=str(args.file))
    if done.already:
        print(f"already ingested: {done.count} labels for {args.model} are in {done.path}")
    else:
        print(f"ingested {done.count} labels for {args.model} into {done.path}")
    return 0

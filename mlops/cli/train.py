"""Train a model and write its immutable version record.

Reads the model's data from the DVC-tracked data/ (pulled when missing), imports models/<name>/model.py,
trains with deterministic seeding (CUDA and bf16/fp16 autocast when present; DDP under torchrun when
training.gpus > 1), checkpoints atomically and resumes automatically after a crash, exports the
artifact (torch.export program, signature, metrics, model card), stores it with DVC (dvc add +
dvc push to the default remote) and writes models/<name>/versions/<version>.yaml once.
Prints the version, the artifact digest and the test metrics. A progress bar in a terminal; plain
lines in CI.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from mlops.cli._run import add_repo_argument, repo_root, step_summary
from mlops.core.errors import UsageError

if TYPE_CHECKING:
    from mlops.core.repo import Repository

EXAMPLES = """examples:
  mlops train digits-cnn
  mlops train cancer-mlp --epochs 3 --device cpu --no-push --json
  mlops train digits-cnn --backend kubernetes --image ghcr.io/org/train@sha256:…"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", help="model name (models/<MODEL>/model.yaml)")
    add_repo_argument(parser)
    parser.add_argument("--epochs", type=int, metavar="N", help="override training.epochs")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], help="override training.device")
    parser.add_argument("--backend", choices=["local", "kubernetes"],
                        help="where to train (default: training.backend of the spec)")
    parser.add_argument("--threads", type=int, metavar="N", help="torch intra-op threads (default: torch's)")
    parser.add_argument("--no-push", action="store_true", help="dvc add the artifact but do not dvc push it")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    cluster = parser.add_argument_group("--backend kubernetes (submit the training Job and follow it)")
    cluster.add_argument("--target", choices=["kubernetes", "local"], default="kubernetes",
                         help="the cluster: the kubeconfig's (kubernetes) or the Job's pods as local processes")
    cluster.add_argument("--image", help="training image (default: $MLOPS_TRAINING_IMAGE)")
    cluster.add_argument("--env", metavar="ENV", help="environment whose cluster settings apply")
    cluster.add_argument("--namespace", metavar="NS", help="override the environment's namespace")
    cluster.add_argument("--context", metavar="CTX", help="kubeconfig context")
    cluster.add_argument("--no-follow", action="store_true", help="submit and return without following")
    cluster.add_argument("--secret", metavar="NAME",
                         help="Secret whose keys the training pods get as environment variables, e.g. the DVC "
                              "remote's credentials (default: $MLOPS_TRAINING_SECRET)")


def _kubernetes(args: argparse.Namespace, repo: Repository) -> int:
    from mlops.train.remote import train_on_cluster

    extra = ["--epochs", str(args.epochs)] if args.epochs else []
    extra += ["--device", args.device] if args.device else []
    return train_on_cluster(repo.root, args.model, target=args.target, image=args.image,
                            namespace=args.namespace, follow=not args.no_follow, env=args.env,
                            context=args.context, train_args=extra, secret=args.secret, repo=repo)


def run(args: argparse.Namespace) -> int:
    if args.epochs is not None and args.epochs <= 0:
        raise UsageError("--epochs must be a positive integer")
    if args.threads is not None and args.threads <= 0:
        raise UsageError("--threads must be a positive integer")
    from mlops.train.train import TrainOptions, train
    from mlops.validate.validate import load_valid

    root = repo_root(args.repo)
    repo = load_valid(root, {args.model})
    backend = args.backend or repo.require_model(args.model).spec.training.backend
    if backend == "kubernetes":
        return _kubernetes(args, repo)
    result = train(root, args.model, TrainOptions(epochs=args.epochs, device=args.device, push=not args.no_push,
                                                  threads=args.threads), repo=repo)
    if result is None:  # a non-zero rank of a torchrun group: rank 0 prints and records
        return 0
    if args.json:
        print(json.dumps(result.to_json(), indent=2, sort_keys=True))
    else:
        state = "recorded" if result.created else "already recorded"
        print(f"{result.model}@{result.version} {state}: {result.record_path}")
        print(f"  digest  {result.digest}")
        print(f"  stored  {result.uri}")
        print("  metrics " + ", ".join(f"{k} {v:.4f}" for k, v in result.metrics.items()))
    step_summary(f"### mlops train {result.model}\n\n`{result.model}@{result.version}` — digest `{result.digest}`\n\n"
                 "| metric | value |\n|---|---|\n"
                 + "\n".join(f"| {k} | {v:.4f} |" for k, v in result.metrics.items()))
    return 0

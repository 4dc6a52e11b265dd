"""Scaffold a new model that validates as is: the first step of proposing a model.

Creates models/NAME/ with model.yaml (the spec), model.py (the build() contract filled in with a
small MLP), README.md (a model card to fill in) and versions/. The features are read from the
header of a CSV in the DVC-tracked data/ tree (default: the breast-cancer example data). Nothing
is written when the name is invalid or taken, or the data cannot be read.
"""

from __future__ import annotations

import argparse

from mlops.cli._run import add_repo_argument, repo_root

EXAMPLES = """examples:
  mlops new model my-model
  mlops new model house-prices --task regression --data data/houses/houses.csv --label price
  mlops new model my-model --owner alice --owner ml-platform/tabular"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", choices=["model"], help="what to create (only 'model' for now)")
    parser.add_argument("name", help="the model's name: a DNS-1123 label, e.g. my-model")
    parser.add_argument("--task", choices=["classification", "regression"], default="classification",
                        help="what the model predicts (default: classification)")
    parser.add_argument("--data", metavar="PATH", help="CSV inside the DVC-tracked data/ tree "
                        "(default: data/breast-cancer/breast_cancer.csv)")
    parser.add_argument("--label", metavar="COLUMN", help="label column (default: the CSV's last column; "
                        "'malignant' for the default data)")
    parser.add_argument("--owner", action="append", metavar="WHO", help="GitHub user or org/team owning it "
                        "(repeatable; default: $GITHUB_ACTOR or $USER)")
    parser.add_argument("--description", help="one line on what the model does")
    add_repo_argument(parser)


def run(args: argparse.Namespace) -> int:
    from mlops.validate.scaffold import NewModel, scaffold

    root = repo_root(args.repo)
    new = NewModel(name=args.name, task=args.task, data=args.data, label=args.label, owners=args.owner or [],
                   description=args.description)
    target = scaffold(root, new)
    rel = target.relative_to(root).as_posix()
    print(f"created {rel}/: model.yaml, model.py, README.md, versions/")
    owners = " and `mlops codeowners` (its owners join .github/CODEOWNERS)" \
        if (root / ".github" / "CODEOWNERS").is_file() else ""
    print(f"next: edit them, run `mlops validate --model {new.name}`{owners}, then open a pull request")
    return 0

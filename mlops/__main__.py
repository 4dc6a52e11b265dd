"""``python -m mlops`` is the same as the ``mlops`` console script."""

from mlops.cli import main

raise SystemExit(main())

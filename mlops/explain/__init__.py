"""`mlops explain`: why a version runs where it runs, from git and the forge (see :mod:`mlops.explain.explain`)."""

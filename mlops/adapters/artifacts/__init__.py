"""The ArtifactStore seam: where trained artifacts live, and the verified loader.

* :mod:`mlops.adapters.artifacts.store` — the :class:`ArtifactStore` Protocol and a directory store;
* :mod:`mlops.adapters.artifacts.dvc` — the DVC store (``dvc add`` + ``dvc push`` to the default remote);
* :mod:`mlops.adapters.artifacts.loader` — :func:`load_verified` (digest first, then ``torch.export.load``).

Nothing here imports torch or DVC at import time.
"""

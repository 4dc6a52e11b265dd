"""Deployment: the serving image of a recorded version (``mlops build-image``), its wheelhouse and pins."""

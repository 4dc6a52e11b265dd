"""Shared test helpers: git repositories, version-record builders, servers. One copy of each, imported as
``from tests.helpers.git import git``."""

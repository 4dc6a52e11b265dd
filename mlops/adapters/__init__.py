"""Seams to outside systems: one small Protocol each, with a real and a local implementation.

* ``artifacts`` — ArtifactStore (DVC remote | directory) and the verified artifact loader;
* ``forge`` — the Git forge (GitHub REST | local);
* ``cluster`` — ClusterTarget (Kubernetes | local processes);
* ``image`` — ImageBuilder (Docker SDK).
"""

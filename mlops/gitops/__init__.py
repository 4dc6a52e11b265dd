"""Git-facing verbs: what changed between revisions (manifests, version records) and pull-request plumbing."""

#!/usr/bin/env bash
# The serving image's wheelhouse, built on the host (pip inside an image build has no network):
#   scripts/build_wheelhouse.sh [DEST]      default DEST: ~/.cache/mlops/wheelhouse
# DEST/deps: wheels of the serving runtime's dependencies, pinned to this environment's versions (cached;
# refreshed only when the lock changes); DEST/mlops: the mlops wheel. The CPU torch wheel is taken from
# /opt/wheels when present (set MLOPS_WHEEL_LINKS to other directories, colon-separated).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${1:-${MLOPS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mlops}/wheelhouse}"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
[ -x "$PY" ] || PY="$(command -v python3)"
links=()
IFS=: read -r -a dirs <<< "${MLOPS_WHEEL_LINKS:-/opt/wheels}"
for d in "${dirs[@]}"; do [ -d "$d" ] && links+=(--find-links "$d"); done
exec "$PY" -m mlops.deploy.wheelhouse "$DEST" "${links[@]}"

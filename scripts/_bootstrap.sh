# Sourced by scripts/demo and scripts/test: create .venv once and keep it in step with pyproject.toml.
# torch is installed first and pinned: this machine class has a CPU wheel of torch 2.13.0 on disk, and a
# looser spec would pull a multi-GB CUDA build. pandas<3 is pinned in pyproject (evidently 0.7.23 needs it).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
TORCH_SPEC="${MLOPS_TORCH_SPEC:-torch==2.13.0}"

say() { printf '» %s\n' "$*" >&2; }

if [ ! -x "$PY" ]; then
  base="$(command -v python3.11 || command -v python3)"
  "$base" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python ≥ 3.11 is required" >&2; exit 1; }
  say "creating .venv with $("$base" --version)"
  "$base" -m venv "$VENV"
fi
stamp="$VENV/.mlops-installed"
want="$(cat "$ROOT/pyproject.toml" | sha256sum | cut -c1-16) $TORCH_SPEC"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  say "installing $TORCH_SPEC, then the package with its test extras (first run only)"
  "$PY" -m pip install --quiet --disable-pip-version-check --upgrade pip
  "$PY" -m pip install --quiet --disable-pip-version-check "$TORCH_SPEC"
  "$PY" -m pip install --quiet --disable-pip-version-check -e "$ROOT[test]"
  echo "$want" > "$stamp"
fi
export PATH="$VENV/bin:$PATH"
export PYTHONDONTWRITEBYTECODE=1
# The example data: materialised from scikit-learn, tracked by DVC, pushed to the local remote. Idempotent.
if [ ! -f "$ROOT/data/digits/digits.csv" ] || [ ! -d "$ROOT/.mlops/dvc-remote" ]; then
  say "materialising the example data (scikit-learn → data/ → DVC local remote)"
  "$PY" "$ROOT/scripts/materialize_data.py" >&2
fi

#!/usr/bin/env bash
# The whole test suite: installs what is missing, then lint, types, tracker tests and size
# check, and pytest (unit, integration, infra, browser). `.ci/run` calls exactly this.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/install.sh dev
export PATH="$ROOT/.venv/bin:$PATH"
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1

echo "==> ruff"
ruff check .
ruff format --check .
echo "==> mypy"
mypy
if [ -f tracker_js/package.json ]; then
  echo "==> tracker_js (node --test, size check)"
  (cd tracker_js && npm test --silent)
fi
echo "==> pytest"
pytest -q "$@"

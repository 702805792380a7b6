#!/usr/bin/env bash
# The whole test suite: installs what is missing, then lint, types, tracker tests and size
# check, and pytest (unit, integration, infra, browser; tests marked `slow` last).
# `.ci/run` calls exactly this.
#
#   bash scripts/test.sh [pytest args]      the full suite
#   bash scripts/test.sh --fast [pytest args]
#       the daily loop: tests/unit but those marked `slow`, in parallel (pytest-xdist, one
#       worker per core); no install, lint or types (the pre-commit hooks run those)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

if [ "${1:-}" = "--fast" ]; then
  shift
  [ -x .venv/bin/pytest ] || bash scripts/install.sh dev
  exec .venv/bin/pytest -q -n auto -m "not slow" tests/unit "$@"
fi

bash scripts/install.sh dev
export PATH="$ROOT/.venv/bin:$PATH"
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1

echo "==> ruff"
ruff check .
ruff format --check .
echo "==> mypy"
mypy
echo "==> lint-imports (the import graph's contracts, pyproject.toml)"
lint-imports --no-logo
if [ -f tracker_js/package.json ]; then
  echo "==> tracker_js (node --test, size check)"
  (cd tracker_js && npm test --silent)
fi
echo "==> pytest"
# Two workers (the machines this runs on have two cores), each taking whole files, so a
# file's module fixtures (servers, synthesized stacks, the AWS stand-ins) are built once;
# the browser tests then run on their own, as their waits assume a machine not busy with
# the rest of the suite.
if [ "$#" -gt 0 ]; then
  pytest -q -n 2 --dist loadfile "$@"
else
  pytest -q -n 2 --dist loadfile --ignore=tests/e2e tests
  pytest -q tests/e2e
fi

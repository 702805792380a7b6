#!/usr/bin/env bash
# Installs whatever is missing: a virtualenv in .venv with the package and its extras,
# and (with `dev`) the npm packages (tracker, CDK CLI) and Debian's Chromium for browser tests.
# Idempotent and quick when nothing changed. Sourced by start.sh and test.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
EXTRAS="${1:-local}"
PY="${PYTHON:-python3}"

if [ ! -x "$ROOT/.venv/bin/python" ]; then
  echo "==> creating virtualenv .venv"
  "$PY" -m venv "$ROOT/.venv"
  "$ROOT/.venv/bin/pip" install -q --upgrade pip
fi
stamp="$ROOT/.venv/.installed-$EXTRAS"
want="$(cat "$ROOT/pyproject.toml" | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "==> installing beaconlake[$EXTRAS] into .venv"
  "$ROOT/.venv/bin/pip" install -q -e "$ROOT[$EXTRAS]"
  echo "$want" > "$stamp"
fi

npm_install() {  # $1: a directory with package.json; re-runs only when it or its lock changed
  local dir="$1" lock="$1/package-lock.json" nstamp="$1/node_modules/.installed" nwant
  nwant="$(cat "$dir/package.json" "$lock" 2>/dev/null | sha256sum | cut -c1-16)"
  if [ ! -f "$nstamp" ] || [ "$(cat "$nstamp")" != "$nwant" ]; then
    echo "==> installing npm packages in ${dir#"$ROOT"/}"
    if [ -f "$lock" ]; then (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    else (cd "$dir" && npm install --no-audit --no-fund --loglevel=error); fi
    echo "$nwant" > "$nstamp"
  fi
}

if [ "$EXTRAS" = "dev" ]; then
  # the tracker's build and tests; the pinned CDK CLI at the root (`npx aws-cdk ...`)
  for dir in "$ROOT/tracker_js" "$ROOT"; do
    if [ -f "$dir/package.json" ]; then npm_install "$dir"; fi
  done
  if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
    echo "==> installing Debian's chromium and chromium-driver (browser tests)"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
  fi
fi

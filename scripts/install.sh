#!/usr/bin/env bash
# Installs whatever is missing: a virtualenv in .venv with the package and its extras,
# and (with --test) the tracker's npm packages and Debian's Chromium for browser tests.
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

if [ "$EXTRAS" = "dev" ]; then
  if [ -f "$ROOT/tracker_js/package.json" ]; then
    lock="$ROOT/tracker_js/package-lock.json"
    nstamp="$ROOT/tracker_js/node_modules/.installed"
    nwant="$(cat "$ROOT/tracker_js/package.json" "$lock" 2>/dev/null | sha256sum | cut -c1-16)"
    if [ ! -f "$nstamp" ] || [ "$(cat "$nstamp")" != "$nwant" ]; then
      echo "==> installing tracker_js npm packages"
      if [ -f "$lock" ]; then (cd "$ROOT/tracker_js" && npm ci --no-audit --no-fund --loglevel=error)
      else (cd "$ROOT/tracker_js" && npm install --no-audit --no-fund --loglevel=error); fi
      echo "$nwant" > "$nstamp"
    fi
  fi
  if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
    echo "==> installing Debian's chromium and chromium-driver (browser tests)"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
  fi
fi

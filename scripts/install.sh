#!/usr/bin/env bash
# Installs whatever is missing, every Python version from the committed lock (uv.lock):
#   bash scripts/install.sh local          the local server (start.sh)
#   bash scripts/install.sh dev            the test suite (test.sh): also npm packages and Chromium
#   bash scripts/install.sh aws,local,bench  the benchmarks (bench/run)
# uv (itself pinned with hashes in scripts/uv-requirements.txt) goes into .tools/uv; the
# virtualenv .venv then holds exactly the lock's packages for the extras asked for now and
# before (a later `local` does not take the test tools away), and nothing else: uv removes
# whatever is not in the lock. Idempotent and quick when nothing changed. Sourced by start.sh
# and test.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
EXTRAS="${1:-local}"
PY="${PYTHON:-python3}"

uv_pin="$ROOT/scripts/uv-requirements.txt"
uv_dir="$ROOT/.tools/uv"
UV="$uv_dir/bin/uv"
uv_want="$(sed -n 's/^uv==\([^ ]*\).*/\1/p' "$uv_pin")"
if [ ! -x "$UV" ] || [ "$("$UV" --version 2>/dev/null | cut -d' ' -f2)" != "$uv_want" ]; then
  echo "==> installing uv $uv_want into .tools/uv"
  rm -rf "$uv_dir"
  "$PY" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-warn-script-location \
    --no-deps --require-hashes --target "$uv_dir" -r "$uv_pin"
fi

# the extras asked for before stay installed: a union, always resolved from the lock
profile_file="$ROOT/.venv/.beaconlake-extras"
extras="$EXTRAS"
if [ -f "$profile_file" ]; then extras="$extras,$(cat "$profile_file")"; fi
extras="$(echo "$extras" | tr ',' '\n' | sed '/^$/d' | sort -u | paste -sd, -)"
extra_args=()
for extra in ${extras//,/ }; do extra_args+=(--extra "$extra"); done

export UV_PROJECT_ENVIRONMENT="$ROOT/.venv" UV_PYTHON_DOWNLOADS=never UV_NO_CONFIG=1
# --frozen: install what uv.lock says, never re-resolve; --locked would fail on a stale lock
# instead, which tests/unit/test_lock.py checks separately.
"$UV" sync --quiet --frozen --project "$ROOT" --python "$PY" "${extra_args[@]}"
# aws-cdk-lib and aws-cdk.cloud-assembly-schema both ship aws_cdk/cloud_assembly_schema/
# __init__.py, and uv installs in parallel, so either copy may land; aws-cdk-lib's is the one
# its jsii types need (with the other, aws_cdk.assertions cannot read a synth's warnings).
if ! "$ROOT/.venv/bin/python" "$ROOT/scripts/cdk_schema_owner.py"; then
  "$UV" sync --quiet --frozen --project "$ROOT" --python "$PY" "${extra_args[@]}" \
    --reinstall-package aws-cdk-lib
fi
echo "$extras" > "$profile_file"

npm_install() {  # $1: a directory with package.json; re-runs only when it or its lock changed
  local dir="$1" lock="$1/package-lock.json" nstamp="$1/node_modules/.installed" nwant
  nwant="$(cat "$dir/package.json" "$lock" 2>/dev/null | sha256sum | cut -c1-16)"
  if [ ! -f "$nstamp" ] || [ "$(cat "$nstamp")" != "$nwant" ]; then
    echo "==> installing npm packages in ${dir#"$ROOT"/}"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$nwant" > "$nstamp"
  fi
}

if [[ ",$EXTRAS," == *",dev,"* ]]; then
  # the tracker's build and tests; at the root the pinned CDK CLI (`npx aws-cdk ...`) and
  # dt-sql-parser, Trino's grammar for the tests' Athena check
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

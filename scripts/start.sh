#!/usr/bin/env bash
# Installs what is missing, puts demo traffic in ./data (once), and starts the local server.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/install.sh local
export PATH="$ROOT/.venv/bin:$PATH"
export BEACONLAKE_DATA_DIR="${BEACONLAKE_DATA_DIR:-$ROOT/data}"
beaconlake demo --if-empty
exec beaconlake serve --port "${BEACONLAKE_PORT:-8000}" "$@"

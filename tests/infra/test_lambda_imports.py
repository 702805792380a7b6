"""The Lambda handlers import, and the AWS ports build, without the `local` extra, which is
not in the dependency layer (duckdb, pyarrow, uvicorn, geoip2fast, tqdm)."""

from __future__ import annotations

import subprocess
import sys

from tests.infra.conftest import ROOT

CHILD = """
import importlib, os, sys
for name in ("duckdb", "pyarrow", "uvicorn", "geoip2fast", "tqdm"):
    sys.modules[name] = None  # any import of it raises ImportError
os.environ.update(
    AWS_DEFAULT_REGION="us-east-1", AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x",
    BEACONLAKE_BACKEND="aws", BEACONLAKE_FIREHOSE_STREAM="s", BEACONLAKE_KEYS_TABLE="k",
    BEACONLAKE_ATHENA_WORKGROUP="w", BEACONLAKE_ATHENA_DATABASE="d",
    BEACONLAKE_SESSIONS_TABLE="t", BEACONLAKE_EVENTS_BUCKET="e", BEACONLAKE_RESULTS_BUCKET="r",
)
sys.path[:0] = ["layers"]
for name in ("collect", "stats", "rotate_salt", "rollups"):
    sys.path.insert(0, f"functions/{name}")
    assert callable(importlib.import_module("app").handler)
    del sys.modules["app"]
    sys.path.pop(0)
from beaconlake import wiring
ports = wiring.ports()
print(type(ports.sink).__name__, type(wiring.engine()).__name__, type(wiring.login_store()).__name__)
job = wiring.rollup_job(wiring.Settings.from_env())  # the daily job, as functions/rollups runs it
print(type(job.files).__name__, job.compact)
"""


def test_handlers_import_with_only_the_layer_dependencies() -> None:
    result = subprocess.run(
        [sys.executable, "-c", CHILD],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == [
        "FirehoseSink",
        "AthenaEngine",
        "DynamoLoginStore",
        "S3DayFiles",
        "True",
    ]

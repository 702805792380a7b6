"""A loopback stand-in for the few AWS JSON APIs the handlers call on their first request, so
the cold start of the AWS back end can be timed with real botocore clients (request signing,
serialisation, HTTP) and without the internet. Point `AWS_ENDPOINT_URL` at it.

Athena always answers with one canned row of the stats SQL's columns: the figure is about
start-up and round trips, not query results.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from beaconlake.stats.sql import RAW_COLUMNS

SALT_HEX = "ab" * 32
RESULT_COLUMNS = ("k0", *RAW_COLUMNS, "total_visitors", "total_rows")


def _athena_results() -> dict[str, Any]:
    info = [
        {
            "Name": c,
            "Label": c,
            "Type": "varchar" if c == "k0" else "bigint",
            "Precision": 0,
            "Scale": 0,
            "Nullable": "UNKNOWN",
            "CaseSensitive": False,
        }
        for c in RESULT_COLUMNS
    ]
    values = [{"VarCharValue": ""}] + [{"VarCharValue": "1"} for _ in RESULT_COLUMNS[1:]]
    header = [{"VarCharValue": c} for c in RESULT_COLUMNS]
    return {
        "ResultSet": {
            "Rows": [{"Data": header}, {"Data": values}],
            "ResultSetMetadata": {"ColumnInfo": info},
        },
        "UpdateCount": 0,
    }


def answers(key_item: dict[str, Any]) -> dict[str, Any]:
    """X-Amz-Target → the JSON body of its answer (PutRecordBatch's depends on the request)."""
    execution = {
        "QueryExecutionId": "q-1",
        "Query": "SELECT",
        "StatementType": "DML",
        "Status": {"State": "SUCCEEDED", "SubmissionDateTime": 0, "CompletionDateTime": 0},
        "ResultConfiguration": {"OutputLocation": "s3://bench/q-1.csv"},
        "Statistics": {"DataScannedInBytes": 0, "EngineExecutionTimeInMillis": 1},
        "WorkGroup": "beaconlake",
    }
    return {
        "AmazonSSM.GetParameter": {
            "Parameter": {
                "Name": "/beaconlake/salts/day",
                "Type": "SecureString",
                "Value": SALT_HEX,
            }
        },
        "DynamoDB_20120810.GetItem": {"Item": key_item},
        "AmazonAthena.StartQueryExecution": {"QueryExecutionId": "q-1"},
        "AmazonAthena.GetQueryExecution": {"QueryExecution": execution},
        "AmazonAthena.GetQueryResults": _athena_results(),
    }


@contextmanager
def serve(key_item: dict[str, Any]) -> Iterator[str]:
    """Run the stand-in on a free loopback port; yields its endpoint URL."""
    canned = answers(key_item)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            target = self.headers.get("X-Amz-Target", "")
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            if target == "Firehose_20150804.PutRecordBatch":
                reply: Any = {
                    "FailedPutCount": 0,
                    "RequestResponses": [{"RecordId": "r"} for _ in body.get("Records", [])],
                }
            elif target in canned:
                reply = canned[target]
            else:
                self.send_error(400, f"the bench stand-in does not answer {target!r}")
                return
            data = json.dumps(reply).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_: Any) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()

"""Figure 8, stats handler: the Lambda handler (FastAPI + Mangum, local back end) answers the
dashboard's eight v1 requests over the generated events; its time and peak RSS.

Run as `python -m bench.stats_memory SITE FIRST LAST TOKEN` with BEACONLAKE_DATA_DIR set.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import date
from typing import Any

from beaconlake.local.asgi import LambdaContext, to_apigw_event
from bench.procs import peak_rss_mb
from bench.queries import dashboard_requests
from functions.stats.app import handler


def main(site: str, first: date, last: date, token: str) -> None:
    started = time.perf_counter()
    statuses = []
    context: Any = LambdaContext()
    for path, query in dashboard_requests(site, first, last):
        scope = {
            "type": "http",
            "method": "GET",
            "path": path,
            "query_string": query.encode(),
            "headers": [(b"authorization", f"Bearer {token}".encode())],
            "client": ("127.0.0.1", 1),
        }
        statuses.append(handler(to_apigw_event(scope, b""), context)["statusCode"])
    result = {
        "seconds": time.perf_counter() - started,
        "statuses": statuses,
        "peak_rss_mb": peak_rss_mb(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1], date.fromisoformat(sys.argv[2]), date.fromisoformat(sys.argv[3]), sys.argv[4])

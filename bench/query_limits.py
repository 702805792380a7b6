"""How long a stats query with many filters takes, in process, through the stats app.

Measures the cost a client can ask for with one request (issue 26): v1 `filters=` with N
`event:page~/pN` parts, and a v2 body with F filters of V values each. With the query limits
(`beaconlake.stats.limits`) the over-limit cases are refused before any SQL is built, so their
time is the time of the 400.

    .venv/bin/python -m bench.query_limits [--v1 1000,2000] [--v2 50x500,20x100]

(httpx refuses URLs over 64 KB, so the issue's 4,000-filter GET is out of reach here.)
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from datetime import UTC, datetime

from fastapi.testclient import TestClient


def _setup(data_dir: str) -> str:
    os.environ.update(
        BEACONLAKE_BACKEND="local",
        BEACONLAKE_DATA_DIR=data_dir,
        BEACONLAKE_SITES="example.com",
        BEACONLAKE_FLUSH_SECONDS="3600",
    )
    from beaconlake import wiring
    from beaconlake.ingest.service import collect
    from beaconlake.keys import create_key
    from beaconlake.model import RequestMeta

    wiring.reset()
    p = wiring.ports()
    now = datetime.now(UTC)
    ua = "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0"
    for i in range(200):
        data = {"n": "pageview", "u": f"https://example.com/p{i % 40}", "d": "example.com"}
        meta = RequestMeta(f"192.0.2.{i % 250}", ua)
        p.sink.put(collect(data, meta, p.policy, p.salts.salt_for, now).events)
    p.sink.flush()
    token, _ = create_key(p.keys, ("example.com",))
    return token


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--v1", default="100,1000", help="numbers of v1 filters")
    parser.add_argument("--v2", default="20x100,50x500", help="FILTERSxVALUES for v2 bodies")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        token = _setup(data_dir)
        from beaconlake.handlers.stats import create_app

        client = TestClient(create_app(), headers={"authorization": f"Bearer {token}"})
        client.get("/api/v1/stats/aggregate", params={"site_id": "example.com"})  # warm up
        for n in [int(x) for x in args.v1.split(",") if x]:
            filters = ";".join(f"event:page~/p{i}" for i in range(n))
            params = {"site_id": "example.com", "period": "7d", "filters": filters}
            start = time.perf_counter()
            res = client.get("/api/v1/stats/aggregate", params=params)
            took = time.perf_counter() - start
            print(
                json.dumps(
                    {
                        "case": f"v1 {n} filters",
                        "status": res.status_code,
                        "seconds": round(took, 3),
                        "url_bytes": len(filters),
                    }
                )
            )
        for case in [x for x in args.v2.split(",") if x]:
            f, v = (int(x) for x in case.split("x"))
            body = {
                "site_id": "example.com",
                "metrics": ["visitors"],
                "date_range": "7d",
                "filters": [
                    ["contains", "event:page", [f"/p{i}-{j}" for j in range(v)]] for i in range(f)
                ],
            }
            start = time.perf_counter()
            res = client.post("/api/v2/query", json=body)
            took = time.perf_counter() - start
            print(
                json.dumps(
                    {
                        "case": f"v2 {f} filters x {v} values",
                        "status": res.status_code,
                        "seconds": round(took, 3),
                    }
                )
            )


if __name__ == "__main__":
    main()

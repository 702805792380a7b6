"""POST /api/v2/query and the exports through the stats Lambda handler (Mangum)."""

from __future__ import annotations

import base64
import csv
import io
import json
from datetime import UTC, datetime

from beaconlake import wiring
from beaconlake.ingest.service import collect
from beaconlake.keys import create_key
from beaconlake.model import RequestMeta
from functions.stats.app import handler as stats
from tests.apigw import Context, http_event
from tests.conftest import CHROME_UA, IPHONE_UA


def _load() -> None:
    p = wiring.ports()
    now = datetime.now(UTC)
    for i, (ua, path) in enumerate([(CHROME_UA, "/"), (CHROME_UA, "/a"), (IPHONE_UA, "/")]):
        data = {
            "n": "pageview",
            "u": f"https://example.com{path}",
            "d": "example.com",
            "p": {"k": f"v{i}"},
        }
        p.sink.put(
            collect(data, RequestMeta(f"192.0.2.{i}", ua), p.policy, p.salts.salt_for, now).events
        )
    p.sink.flush()


def _post(body: dict, token: str, query: dict | None = None) -> dict:
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    return stats(
        http_event("POST", "/api/v2/query", body=json.dumps(body), headers=headers, query=query),
        Context(),
    )


def test_v2_query_json_and_csv(local_env) -> None:
    _load()
    token, _ = create_key(wiring.ports().keys, ("example.com",))
    body = {
        "site_id": "example.com",
        "metrics": ["visitors", "pageviews"],
        "date_range": "day",
        "dimensions": ["visit:device"],
    }
    res = _post(body, token)
    assert res["statusCode"] == 200, res
    results = json.loads(res["body"])["results"]
    assert {tuple(r["dimensions"]): r["metrics"] for r in results} == {
        ("desktop",): [2, 2],
        ("mobile",): [1, 1],
    }
    res = _post(body, token, {"format": "csv"})
    assert res["statusCode"] == 200 and res["headers"]["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(res["body"])))
    assert rows[0] == ["visit:device", "visitors", "pageviews"]
    assert sorted(rows[1:]) == [["desktop", "2", "2"], ["mobile", "1", "1"]]


def test_v2_query_errors_are_4xx_with_field(local_env) -> None:
    token, _ = create_key(wiring.ports().keys, ("shop.test",))
    body = {"site_id": "example.com", "metrics": ["visitors"]}
    assert _post(body, token)["statusCode"] == 403
    token, _ = create_key(wiring.ports().keys, ("*",))
    res = _post({**body, "metrics": ["visitors", "bogus"]}, token)
    assert res["statusCode"] == 400 and json.loads(res["body"])["field"] == "metrics[1]"
    res = _post({**body, "unknown": 1}, token)
    assert res["statusCode"] == 422 and "unknown" in json.loads(res["body"])["field"]


def test_raw_event_export_streams_every_row(local_env) -> None:
    _load()
    token, _ = create_key(wiring.ports().keys, ("example.com",))
    headers = {"authorization": f"Bearer {token}"}
    for fmt in ("csv", "ndjson"):
        res = stats(
            http_event(
                "GET",
                "/api/v2/export/events",
                headers=headers,
                query={"site_id": "example.com", "date_range": "day", "format": fmt},
            ),
            Context(),
        )
        assert res["statusCode"] == 200
        body = base64.b64decode(res["body"]).decode() if res["isBase64Encoded"] else res["body"]
        if fmt == "csv":
            rows = list(csv.DictReader(io.StringIO(body)))
        else:
            rows = [json.loads(line) for line in body.splitlines()]
        assert sorted(r["pathname"] for r in rows) == ["/", "/", "/a"]
        props = [r["props"] if fmt == "ndjson" else json.loads(r["props"]) for r in rows]
        assert sorted(p["k"] for p in props) == ["v0", "v1", "v2"]
        assert "192.0.2" not in body and CHROME_UA not in body

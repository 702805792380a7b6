"""Server-side sending on the AWS back end: the real collect Lambda handler, the ingest key
and the seen signatures in the template's keys table (moto), rows through the Firehose
stand-in into S3 Parquet."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, time
from typing import Any

import boto3
import pyarrow.parquet as pq
import pytest

from beaconlake import wiring
from beaconlake.ingest.signed import sign
from beaconlake.keys import create_key
from beaconlake.ports import EVENTS_SEND
from tests.apigw import Context, http_event
from tests.aws_box.conftest import Box
from tests.conftest import CHROME_UA, FIREFOX_UA
from tests.reference import Hit, breakdown
from tests.reference_behaviour import journeys

pytestmark = pytest.mark.slow

EVENT = {"n": "pageview", "u": "https://example.com/checkout", "d": "example.com"}


def start(box: Box) -> tuple[str, datetime]:
    """Today's salt, the clock at now (the replay window is real time on DynamoDB) and an
    ingest key."""
    now = datetime.now(UTC).replace(microsecond=0)
    box.rotate_salts(datetime.combine(now.date(), time(), UTC))
    box.frozen.at = now
    box.clock.set(now)
    token, _ = create_key(wiring.ports().keys, ("example.com",), "backend", (EVENTS_SEND,))
    return token, now


def send(
    box: Box, payload: object, token: str | None, signature: str | None = None
) -> tuple[int, dict[str, Any]]:
    from functions.collect.app import handler as collect

    headers = {
        "content-type": "application/json",
        "user-agent": CHROME_UA,
        box.env["BEACONLAKE_CLIENT_IP_HEADER"]: "203.0.113.250:443",
        "cloudfront-viewer-country": "US",
    }
    if token:
        headers["authorization"] = f"Bearer {token}"
    if signature:
        headers["x-beaconlake-signature"] = signature
    event = http_event(
        "POST", "/api/event", body=json.dumps(payload), headers=headers, source_ip="130.176.0.1"
    )
    reply = collect(event, Context())
    return reply["statusCode"], json.loads(reply["body"])


def signed(box: Box, token: str, payload: object, t: int) -> tuple[int, dict[str, Any]]:
    return send(box, payload, token, sign(token, json.dumps(payload).encode(), t))


def rows(box: Box) -> list[dict[str, Any]]:
    box.firehose.drain()
    s3 = boto3.client("s3")
    listed = s3.list_objects_v2(Bucket=box.firehose.bucket, Prefix="events/")
    out: list[dict[str, Any]] = []
    for item in listed.get("Contents", []):
        body = s3.get_object(Bucket=box.firehose.bucket, Key=item["Key"])["Body"].read()
        out.extend(pq.read_table(io.BytesIO(body)).to_pylist())
    return out


def test_a_signed_event_is_accepted_with_the_forwarded_ip_and_ua(box: Box) -> None:
    token, now = start(box)
    t = int(now.timestamp())
    forwarded = {**EVENT, "ip": "198.51.100.9", "ua": FIREFOX_UA}
    assert signed(box, token, forwarded, t) == (
        202,
        {"status": "accepted", "accepted": 1, "dropped": 0},
    )
    other = {**forwarded, "u": "https://example.com/other", "ip": "198.51.100.10"}
    assert signed(box, token, other, t)[0] == 202
    # a browser at the forwarded address with the forwarded UA: the same visitor
    from functions.collect.app import handler as collect

    headers = {
        "content-type": "text/plain",
        "user-agent": FIREFOX_UA,
        box.env["BEACONLAKE_CLIENT_IP_HEADER"]: "198.51.100.9:443",
    }
    browser = {**EVENT, "u": "https://example.com/browser"}
    event = http_event("POST", "/api/event", body=json.dumps(browser), headers=headers)
    assert collect(event, Context())["statusCode"] == 202
    by_path = {r["pathname"]: r for r in rows(box)}
    mine = by_path["/checkout"]
    assert (mine["browser"], mine["os"]) == ("Firefox", "Linux")  # not the sender's Chrome
    assert mine["country"] is None  # the sending server's country header is not the visitor's
    assert mine["visitor_id"] == by_path["/browser"]["visitor_id"]
    assert mine["visitor_id"] != by_path["/other"]["visitor_id"]


def test_replayed_tampered_and_stale_signatures_get_401_with_a_reason(box: Box) -> None:
    token, now = start(box)
    t = int(now.timestamp())
    body = json.dumps(EVENT).encode()
    signature = sign(token, body, t)
    assert send(box, EVENT, token, signature)[0] == 202
    status, answer = send(box, EVENT, token, signature)
    assert (status, answer["error"]) == (401, "already received")
    status, answer = send(box, {**EVENT, "u": "https://example.com/evil"}, token, signature)
    assert (status, answer["error"]) == (401, "signature does not match the body")
    status, answer = signed(box, token, EVENT, t - 301)
    assert status == 401 and answer["error"].startswith("too old: replay window")
    status, answer = send(box, EVENT, "bl_000000000000_" + "A" * 43, signature)
    assert status == 401 and answer["rule"] == "api_key"
    # the seen signature is an expiring item of the keys table, never listed as a key
    assert [k.label for k in wiring.ports().keys.list()] == ["backend"]
    assert [r["pathname"] for r in rows(box)] == ["/checkout"]


def test_without_a_signature_ip_ua_and_ts_are_refused(box: Box) -> None:
    token, now = start(box)
    for name, value in (("ip", "198.51.100.9"), ("ua", FIREFOX_UA), ("ts", now.timestamp())):
        for key in (None, token):
            status, answer = send(box, {**EVENT, name: value}, key)
            assert (status, answer["field"], answer["rule"]) == (400, name, "requires_signature")
    assert rows(box) == []


def test_events_in_the_same_millisecond_keep_their_order_of_arrival(box: Box) -> None:
    """Exact, as on the local back end: the `seq` column through Firehose, S3 and Athena."""
    token, now = start(box)
    ms = int(now.timestamp() * 1000) - 60_000
    at = datetime.fromtimestamp(ms / 1000, UTC)
    visits = {
        "198.51.100.31": ["/b", "/a"],
        "198.51.100.32": ["/a", "/b"],
        "198.51.100.33": ["/c", "/b", "/a"],
        "198.51.100.34": ["/b", "/c"],
    }
    hits: list[Hit] = []
    for v, (ip, pages) in enumerate(visits.items()):
        batch = [
            {**EVENT, "u": f"https://example.com{p}", "ip": ip, "ua": FIREFOX_UA, "ts": ms / 1000}
            for p in pages
        ]
        assert signed(box, token, batch, int(now.timestamp()))[0] == 202
        hits += [Hit(v, at, "pageview", p, seq=i) for i, p in enumerate(pages)]
    stored = rows(box)
    assert len(stored) == 9 and len({r["seq"] for r in stored}) == 9
    day = at.date().isoformat()
    for prop, attr in (("visit:entry_page", "entry_page"), ("visit:exit_page", "exit_page")):
        query = {"site_id": "example.com", "period": "day", "date": day, "property": prop}
        answer = box.ok("GET", "/api/v1/stats/breakdown", query={**query, "metrics": "visitors"})
        got = {r[attr]: r["visitors"] for r in answer["results"]}
        assert got == {page: m["visitors"] for page, m in breakdown(hits, attr).items()}
    assert got == {"/a": 2, "/b": 1, "/c": 1}  # the exit pages, by arrival
    for direction in ("next", "previous"):
        body = {"site_id": "example.com", "date_range": [day, day], "page": "/b"}
        answer = box.ok("POST", "/api/v2/journeys", body={**body, "direction": direction})
        counts, total = journeys(hits, "/b", direction)
        assert answer["visits"] == total == 4
        assert {r["page"]: r["visits"] for r in answer["results"]} == counts

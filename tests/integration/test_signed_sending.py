"""Server-side sending on the local back end: a real `beaconlake serve`, an ingest key made
with `beaconlake keys add --scope events:send:*`, signed and unsigned requests over HTTP."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from beaconlake.ingest.signed import sign
from beaconlake.send import Sender
from tests.conftest import CHROME_UA, FIREFOX_UA
from tests.reference import Hit, breakdown
from tests.reference_behaviour import journeys
from tests.server import BIN, NO_LIMITS, Server, parquet_rows, start_server

pytestmark = pytest.mark.slow

URL = "https://example.com/checkout"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("signed")
    srv = start_server(tmp / "data", tmp / "logs", **NO_LIMITS)
    yield srv
    srv.stop()


def ingest_key(srv: Server, *args: str) -> str:
    env = {**os.environ, "BEACONLAKE_BACKEND": "local", "BEACONLAKE_DATA_DIR": str(srv.data_dir)}
    out = subprocess.run(
        [str(BIN), "keys", "add", *args, "--label", "backend"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = re.search(r"(bl_[0-9a-f]{12}_[A-Za-z0-9_-]+)", out)
    assert match, out
    return match.group(1)


@pytest.fixture(scope="module")
def key(server: Server) -> str:
    return ingest_key(server, "--scope", "events:send:*", "--site", "example.com")


def post(
    srv: Server, payload: object, key: str | None = None, signature: str | None = None, **h: str
) -> httpx.Response:
    body = json.dumps(payload).encode()
    headers = {"content-type": "application/json", "user-agent": CHROME_UA, **h}
    headers.setdefault("x-forwarded-for", "203.0.113.250")
    if key:
        headers["authorization"] = f"Bearer {key}"
    if signature:
        headers["x-beaconlake-signature"] = signature
    return httpx.post(f"{srv.base}/api/event", content=body, headers=headers, timeout=10)


def signed(srv: Server, key: str, payload: object, t: int | None = None) -> httpx.Response:
    body = json.dumps(payload).encode()
    return post(srv, payload, key, sign(key, body, int(time.time()) if t is None else t))


def rows_for(srv: Server, path: str, count: int) -> list[dict]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        rows = [r for r in parquet_rows(srv.data_dir) if r["pathname"] == path]
        if len(rows) >= count:
            return rows
        time.sleep(0.3)
    raise AssertionError(f"{count} events on {path} did not reach Parquet")


def test_a_signed_event_is_accepted_and_its_ip_and_ua_stand_for_the_visitor(
    server: Server, key: str
) -> None:
    event = {"n": "pageview", "u": f"{URL}/a", "d": "example.com"}
    forwarded = {**event, "ip": "198.51.100.9", "ua": FIREFOX_UA}
    reply = signed(server, key, forwarded)
    assert reply.status_code == 202, reply.text
    assert reply.json() == {"status": "accepted", "accepted": 1, "dropped": 0}
    # a browser at that address with that UA: the same visitor (the hash uses ip and ua)
    browser = {**event, "u": f"{URL}/a2"}
    reply = post(server, browser, **{"x-forwarded-for": "198.51.100.9", "user-agent": FIREFOX_UA})
    assert reply.status_code == 202
    assert signed(server, key, {**forwarded, "u": f"{URL}/a3", "ip": "198.51.100.10"}).is_success
    (mine,) = rows_for(server, "/checkout/a", 1)
    (same,) = rows_for(server, "/checkout/a2", 1)
    (other,) = rows_for(server, "/checkout/a3", 1)
    assert (mine["browser"], mine["os"]) == ("Firefox", "Linux")  # not the server's Chrome
    assert mine["visitor_id"] == same["visitor_id"] != other["visitor_id"]


def test_replayed_tampered_and_stale_signatures_are_refused_with_a_reason(
    server: Server, key: str
) -> None:
    event = {"n": "pageview", "u": f"{URL}/b", "d": "example.com"}
    body = json.dumps(event).encode()
    signature = sign(key, body, int(time.time()))
    first = post(server, event, key, signature)
    assert first.status_code == 202, first.text
    again = post(server, event, key, signature)
    assert again.status_code == 401
    assert again.json()["error"] == "already received"
    tampered = post(server, {**event, "u": f"{URL}/evil"}, key, signature)
    assert tampered.status_code == 401
    assert tampered.json()["error"] == "signature does not match the body"
    stale = signed(server, key, event, t=int(time.time()) - 301)
    assert stale.status_code == 401
    assert stale.json()["error"].startswith("too old: replay window")
    bad_key = post(server, event, key[:-4] + "AAAA", sign(key, body, int(time.time())))
    assert bad_key.status_code == 401 and bad_key.json()["rule"] == "api_key"
    assert len(rows_for(server, "/checkout/b", 1)) == 1


def test_ip_ua_and_ts_need_a_signature(server: Server, key: str) -> None:
    event = {"n": "pageview", "u": f"{URL}/c", "d": "example.com"}
    for name, value in (("ip", "198.51.100.9"), ("ua", FIREFOX_UA), ("ts", time.time())):
        keyless = post(server, {**event, name: value})
        assert keyless.status_code == 400
        assert keyless.json()["field"] == name
        assert keyless.json()["rule"] == "requires_signature"
        keyed = post(server, {**event, name: value}, key)
        assert keyed.status_code == 400 and keyed.json()["field"] == name
    assert post(server, event).status_code == 202  # today's beacon still works


def test_a_signed_batch_keeps_ts_within_its_window_and_is_all_or_nothing(
    server: Server, key: str
) -> None:
    now = time.time()
    first = {"n": "pageview", "u": f"{URL}/d", "d": "example.com", "ts": now - 3600}
    second = {"n": "Signup", "u": f"{URL}/d", "d": "example.com", "ts": now - 60}
    old = {**second, "ts": now - 25 * 3600}
    refused = signed(server, key, [first, old])
    assert refused.status_code == 400
    assert refused.json()["field"] == "events[1].ts" and refused.json()["rule"] == "window"
    ahead = signed(server, key, {**second, "ts": now + 120})
    assert ahead.status_code == 400 and ahead.json()["rule"] == "window"
    reply = signed(server, key, [first, second])
    assert reply.status_code == 202 and reply.json()["accepted"] == 2
    rows = sorted(rows_for(server, "/checkout/d", 2), key=lambda r: r["ts"])
    assert [r["name"] for r in rows] == ["pageview", "Signup"]
    sent_at = rows[0]["ts"].replace(tzinfo=UTC).timestamp()
    assert abs(sent_at - (now - 3600)) < 1  # the sender's time, not arrival
    too_many = signed(server, key, [second] * 101)
    assert too_many.status_code == 400 and too_many.json()["rule"] == "batch_size"


def test_a_key_without_the_send_scope_or_for_another_site_is_refused(server: Server) -> None:
    event = {"n": "pageview", "u": "https://shop.test/", "d": "shop.test"}
    stats_only = ingest_key(server, "--site", "shop.test")
    assert signed(server, stats_only, event).status_code == 403
    other_site = ingest_key(server, "--scope", "events:send:*", "--site", "example.com")
    reply = signed(server, other_site, event)
    assert reply.status_code == 403 and reply.json()["rule"] == "key_sites"


def test_the_python_sender_delivers_a_batch_to_the_real_server(server: Server, key: str) -> None:
    sender = Sender(f"{server.base}/api/event", key, interval=60)
    for path in ("/e1", "/e2", "/e3"):
        sender.event("pageview", f"{URL}{path}", ip="198.51.100.20", ua=FIREFOX_UA)
    sender.close()
    assert (sender.sent, sender.lost) == (3, 0)
    rows = [r for p in ("/e1", "/e2", "/e3") for r in rows_for(server, f"/checkout{p}", 1)]
    assert {r["browser"] for r in rows} == {"Firefox"}
    assert len({r["visitor_id"] for r in rows}) == 1


def test_events_in_the_same_millisecond_keep_their_order_of_arrival(server: Server) -> None:
    """Exact: each visit's events share one millisecond; only the order they arrived in (the
    collector's `seq`) tells the entry page from the exit page and the next page."""
    key = ingest_key(server, "--scope", "events:send:*", "--site", "shop.test")
    ms = int(time.time() * 1000) - 120_000
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
            {"n": "pageview", "u": f"https://shop.test{p}", "d": "shop.test", "ip": ip}
            | {"ua": FIREFOX_UA, "ts": ms / 1000}
            for p in pages
        ]
        assert signed(server, key, batch).status_code == 202
        hits += [Hit(v, at, "pageview", p, seq=i) for i, p in enumerate(pages)]
    today = at.date().isoformat()
    deadline = time.monotonic() + 20
    while len([r for r in parquet_rows(server.data_dir) if r["hostname"] == "shop.test"]) < 9:
        assert time.monotonic() < deadline, "the events did not reach Parquet"
        time.sleep(0.3)
    for prop, attr in (("visit:entry_page", "entry_page"), ("visit:exit_page", "exit_page")):
        reply = server.stats(
            "/api/v1/stats/breakdown",
            site_id="shop.test",
            period="day",
            date=today,
            property=prop,
            metrics="visitors",
        )
        assert reply.status_code == 200, reply.text
        got = {r[attr]: r["visitors"] for r in reply.json()["results"]}
        expected = {page: m["visitors"] for page, m in breakdown(hits, attr).items()}
        assert got == expected
    assert expected == {"/a": 2, "/b": 1, "/c": 1}  # the exit pages, by arrival
    for direction in ("next", "previous"):
        reply = httpx.post(
            f"{server.base}/api/v2/journeys",
            json={"site_id": "shop.test", "date_range": [today, today], "page": "/b"}
            | {"direction": direction},
            headers={"authorization": f"Bearer {server.key}"},
            timeout=30,
        )
        assert reply.status_code == 200, reply.text
        counts, total = journeys(hits, "/b", direction)
        assert reply.json()["visits"] == total == 4
        assert {r["page"]: r["visits"] for r in reply.json()["results"]} == counts


NODE_SENDER = Path(__file__).parents[2] / "tracker_js" / "node" / "send.js"


def test_the_node_sender_delivers_a_signed_batch_to_the_real_server(
    server: Server, key: str
) -> None:
    script = f"""
const {{ Sender }} = require({json.dumps(str(NODE_SENDER))});
const s = new Sender(process.argv[1], process.argv[2], {{ interval: 0 }});
for (const p of ["/n1", "/n2"]) {{
  s.event("pageview", "{URL}" + p, {{ ip: "198.51.100.40", ua: process.argv[3] }});
}}
s.close().then(() => console.log(JSON.stringify([s.sent, s.lost])));
"""
    node = shutil.which("node")
    assert node, "node is needed for tracker_js"
    out = subprocess.run(
        [node, "-e", script, f"{server.base}/api/event", key, FIREFOX_UA],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert json.loads(out) == [2, 0]
    rows = [r for p in ("/n1", "/n2") for r in rows_for(server, f"/checkout{p}", 1)]
    assert {r["browser"] for r in rows} == {"Firefox"}
    assert len({r["visitor_id"] for r in rows}) == 1

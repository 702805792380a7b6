"""Keyed and signed POST /api/event through the collector's HTTP layer on the local ports:
every malformed request is a 4xx naming its field and rule, never a 5xx."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from beaconlake import wiring
from beaconlake.adapters.file_keys import FileKeyStore
from beaconlake.ingest.http import answer_event
from beaconlake.ingest.signed import sign
from beaconlake.keys import create_key
from beaconlake.ports import EVENTS_SEND, STATS_READ
from tests.conftest import CHROME_UA

EVENT = {"n": "pageview", "u": "https://example.com/", "d": "example.com"}


@pytest.fixture
def key(local_env: Path) -> str:
    token, _ = create_key(wiring.ports().keys, ("example.com",), "t", (EVENTS_SEND,))
    return token


def post(body: bytes, **headers: str) -> tuple[int, dict]:
    base = {"content-type": "application/json", "user-agent": CHROME_UA}
    reply = answer_event(wiring.ports(), {**base, **headers}, "203.0.113.9", body)
    assert isinstance(reply.body, dict)
    return reply.status, reply.body


def signed(key: str, body: bytes, t: int | None = None) -> tuple[int, dict]:
    t = int(time.time()) if t is None else t
    return post(
        body, authorization=f"Bearer {key}", **{"x-beaconlake-signature": sign(key, body, t)}
    )


@pytest.mark.parametrize(
    ("body", "field", "rule"),
    [
        (b"not json", "body", "json"),
        (b"[]", "body", "batch_size"),
        (json.dumps([EVENT] * 101).encode(), "body", "batch_size"),
        (b"[1]", "events[0]", "json_object"),
        (json.dumps([EVENT, {"n": "pageview"}]).encode(), "events[1].url", "required"),
        (json.dumps({**EVENT, "ts": True}).encode(), "ts", "type"),
        (json.dumps({**EVENT, "ts": "yesterday"}).encode(), "ts", "type"),
        (json.dumps({**EVENT, "ip": "999.1.1.1"}).encode(), "ip", "ip_address"),
        (json.dumps({**EVENT, "ua": ""}).encode(), "ua", "type"),
        (json.dumps({**EVENT, "ua": 7}).encode(), "ua", "type"),
    ],
)
def test_bad_signed_bodies_are_400_naming_the_field(
    key: str, body: bytes, field: str, rule: str
) -> None:
    status, answer = signed(key, body)
    assert (status, answer["field"], answer["rule"]) == (400, field, rule), answer


@pytest.mark.parametrize(
    ("authorization", "signature", "status", "rule"),
    [
        ("Basic abc", None, 401, "api_key"),
        ("Bearer ", None, 401, "api_key"),
        ("Bearer bl_0123456789ab_" + "x" * 43, None, 401, "api_key"),
        (None, "t=1,v1=zz", 401, "format"),
        (None, "v1=" + "0" * 64, 401, "format"),
        (None, f"t={int(time.time())},v1=" + "0" * 64, 401, "mismatch"),
    ],
)
def test_bad_keys_and_signatures_are_401(
    key: str, authorization: str | None, signature: str | None, status: int, rule: str
) -> None:
    headers = {"authorization": authorization or f"Bearer {key}"}
    if signature:
        headers["x-beaconlake-signature"] = signature
    got, answer = post(json.dumps(EVENT).encode(), **headers)
    assert (got, answer["rule"]) == (status, rule)


def test_a_signature_from_the_future_beyond_the_window_is_refused(key: str) -> None:
    status, answer = signed(key, json.dumps(EVENT).encode(), int(time.time()) + 301)
    assert (status, answer["rule"]) == (401, "replay_window")


def test_a_stats_key_cannot_send(local_env: Path) -> None:
    token, _ = create_key(wiring.ports().keys, ("*",), "t", (STATS_READ,))
    status, answer = signed(token, json.dumps(EVENT).encode())
    assert (status, answer["rule"]) == (403, "scope")


def test_an_unsigned_keyed_event_is_stored_with_a_seq(key: str) -> None:
    status, answer = post(json.dumps([EVENT, EVENT]).encode(), authorization=f"Bearer {key}")
    assert (status, answer["accepted"]) == (202, 2)
    first, second = wiring.ports().pending()[-2:]
    assert first.seq is not None and second.seq is not None and first.seq < second.seq


def test_seen_signatures_expire_with_their_window(tmp_path: Path) -> None:
    store = FileKeyStore(tmp_path / "keys.json")
    now = int(time.time())
    assert store.first_use("a", now + 300) and not store.first_use("a", now + 300)
    assert store.first_use("b", now - 1) and store.first_use("b", now + 300)


def test_an_unreadable_key_store_is_503_not_500(key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(key_id: str) -> None:
        raise OSError("unreachable")

    monkeypatch.setattr(wiring.ports().keys, "secret_hash", broken)
    status, answer = signed(key, json.dumps(EVENT).encode())
    assert status == 503 and "retry" in answer["error"]

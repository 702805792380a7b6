"""Property-based fuzzing of the collector: the parser and validator on their own, and the whole
Lambda handler fed API Gateway HTTP API v2 events.

The properties: no input makes the collector answer 5xx or raise; every rejection is a 4xx with
a JSON body naming the field; whatever is accepted can be written to Parquet (a row that cannot
be encoded would poison a whole batch) and respects the documented limits.
`--hypothesis-show-statistics` shows how the cases split between statuses (docs/SECURITY.md).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from beaconlake import wiring
from beaconlake.adapters.parquet_sink import events_to_table
from beaconlake.ingest import payload
from beaconlake.ingest.payload import PayloadError, decode_body, parse_beacon
from beaconlake.local.asgi import LocalGateway
from beaconlake.model import Event
from functions.collect.app import handler as collect
from functions.stats.app import handler as stats
from tests.apigw import Context, http_event
from tests.fuzz import strategies as s

FUZZ = settings(
    max_examples=1500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=False,
    database=None,
)
REJECTIONS = {400, 413, 415, 429, 431}


@pytest.fixture(scope="module")
def fuzz_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One local back end for the module (Hypothesis runs many cases per test)."""
    data_dir = tmp_path_factory.mktemp("fuzz")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BEACONLAKE_BACKEND", "local")
        mp.setenv("BEACONLAKE_DATA_DIR", str(data_dir))
        mp.setenv("BEACONLAKE_SITES", "example.com,shop.test")
        mp.setenv("BEACONLAKE_FLUSH_SECONDS", "3600")
        mp.setenv("BEACONLAKE_CLIENT_IP_HEADER", "x-forwarded-for")
        mp.setenv("BEACONLAKE_CHECK_ORIGIN", "1")
        # the limits have their own tests; here every case must reach the parser
        mp.setenv("BEACONLAKE_INGEST_IP_RATE", "0")
        mp.setenv("BEACONLAKE_INGEST_SITE_RATE", "0")
        wiring.reset()
        ports = wiring.ports()
        ports.sink.close()
        ports.sink = CheckingSink()
        yield data_dir
        wiring.reset()


class CheckingSink:
    """Converts each accepted batch to the Parquet schema (a lone surrogate would fail there)
    and keeps only a count: the fuzz cases test the parser, not the disk."""

    def __init__(self) -> None:
        self.rows = 0

    def put(self, events: Sequence[Event]) -> None:
        # one beacon: one event per site it names, each site once (issue 26: 5,000 repeats
        # of a site stored 5,000 events), and a revenue amount within its rule
        assert len(events) <= payload.MAX_DOMAINS
        assert len({e.site_id for e in events}) == len(events)
        assert all(abs(e.revenue_amount or 0) < payload.MAX_REVENUE for e in events)
        self.rows += events_to_table(events).num_rows

    def flush(self) -> None:
        """Nothing is buffered."""

    def close(self) -> None:
        """Nothing to release."""


def _check_accepted(beacon: payload.Beacon) -> None:
    assert len(beacon.name) <= payload.MAX_NAME_CHARS
    assert len(beacon.props) <= payload.MAX_PROPS
    assert all(len(k.encode()) <= payload.MAX_PROP_KEY_BYTES for k in beacon.props)
    assert all(len(v.encode()) <= payload.MAX_PROP_VALUE_BYTES for v in beacon.props.values())
    texts = [beacon.name, beacon.hostname, beacon.pathname, beacon.referrer or "", *beacon.domains]
    texts += [*beacon.props, *beacon.props.values(), *beacon.query, *beacon.query.values()]
    for text in texts:
        text.encode("utf-8")  # raises on a lone surrogate
        assert "\x00" not in text
    assert 1 <= len(beacon.domains) <= payload.MAX_DOMAINS
    assert len(set(beacon.domains)) == len(beacon.domains)
    if beacon.revenue_amount is not None:
        assert abs(beacon.revenue_amount) < payload.MAX_REVENUE
        assert beacon.revenue_amount == beacon.revenue_amount.quantize(Decimal("0.0001"))


@FUZZ
@given(body=s.bodies)
def test_decode_and_parse_raise_only_payload_errors(body: bytes) -> None:
    try:
        beacon = parse_beacon(decode_body(body))
    except PayloadError as exc:
        event(f"rejected: {exc.field}/{exc.rule}")
        assert exc.as_body()["field"] and exc.as_body()["rule"]
        json.dumps(exc.as_body())
        return
    event("valid")
    _check_accepted(beacon)


@FUZZ
@given(data=s.beacon_dicts)
def test_parse_beacon_on_hostile_fields(data: dict[str, Any]) -> None:
    try:
        beacon = parse_beacon(data)
    except PayloadError as exc:
        event(f"rejected: {exc.field}/{exc.rule}")
        return
    event("valid")
    _check_accepted(beacon)
    assert beacon.hostname and beacon.pathname.startswith("/")


def _reply(res: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    status = res["statusCode"]
    assert status < 500, res
    body = json.loads(res["body"])
    assert isinstance(body, dict)
    return status, body


def _post_event(body: bytes, headers: dict[str, str], as_text: bool) -> dict[str, Any]:
    if as_text:
        # API Gateway hands over a text body as a JSON string, which may hold lone surrogates
        ev = http_event("POST", "/api/event", headers=headers)
        ev["body"] = body.decode("utf-8", "surrogatepass")
    else:
        ev = http_event("POST", "/api/event", body=body, headers=headers, base64_body=True)
    return collect(ev, Context())


@FUZZ
@given(body=s.bodies, headers=s.headers, as_text=st.booleans())
def test_post_event_handler_never_fails(
    fuzz_env: Path, body: bytes, headers: dict[str, str], as_text: bool
) -> None:
    try:
        body.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        as_text = False
    status, reply = _reply(_post_event(body, headers, as_text))
    if status in REJECTIONS:
        event(f"{status} {reply.get('field')}/{reply.get('rule')}")
        assert reply["error"] and reply["field"] and reply["rule"]
        return
    assert status == 202, (status, reply)
    event(f"202 {reply.get('reason', 'accepted')}")
    if reply["status"] == "accepted":
        assert wiring.ports().sink.rows > 0  # type: ignore[attr-defined]


@settings(FUZZ, max_examples=500)
@given(query=s.query_params, headers=s.headers)
def test_pixel_handler_always_answers_the_gif(
    fuzz_env: Path, query: dict[str, str], headers: dict[str, str]
) -> None:
    res = collect(http_event("GET", "/e.gif", headers=headers, query=query), Context())
    assert res["statusCode"] == 200, res
    assert base64.b64decode(res["body"]).startswith(b"GIF89a")
    dropped = res["headers"].get("x-beaconlake-dropped")
    event(f"pixel {dropped or 'accepted'}")


# Issue 26: amounts whose arithmetic overflows or rounds onto the limit, and domain lists
# that repeat a site thousands of times or name more sites than allowed.
HUGE_AMOUNTS = st.sampled_from(
    [
        "1e9999999",
        "-1e9999999",
        "1E+999999999999999999",
        "1e-9999999",
        "9999999999999.99999",
        "9999999999999.99995",
        "-9999999999999.99999",
        "9999999999999.9999",
        "1e13",
        "sNaN",
        "-Infinity",
        "0E-1000000",
        "1" * 5000,
        "0." + "9" * 5000,
    ]
)
DOMAIN_LISTS = st.builds(
    lambda names, repeat: ",".join(names * repeat),
    st.lists(
        st.sampled_from(["example.com", "WWW.Example.com", "shop.test", "x.test", "y.test"])
        | st.from_regex(r"[a-z]{1,8}\.test", fullmatch=True),
        min_size=1,
        max_size=14,
    ),
    st.integers(1, 3000),
)


@settings(FUZZ, max_examples=300)
@given(amount=HUGE_AMOUNTS | s.numbers, domains=DOMAIN_LISTS, as_json_string=st.booleans())
def test_hostile_revenue_and_domain_lists_never_make_a_5xx(
    fuzz_env: Path, amount: Any, domains: str, as_json_string: bool
) -> None:
    revenue: Any = {"amount": amount, "currency": "EUR"}
    beacon = {"n": "Purchase", "u": "https://example.com/", "d": domains, "$": revenue}
    if as_json_string:
        beacon["$"] = json.dumps(revenue)
    body = json.dumps(beacon).encode()
    headers = {"content-type": "text/plain", "user-agent": s.FIREFOX}
    status, reply = _reply(_post_event(body, headers, as_text=True))
    event(f"{status} {reply.get('field', reply.get('reason', 'accepted'))}")
    # an amount JSON itself refuses (NaN, Infinity, an integer of over 4,300 digits) is a 400
    # on the body; anything else is a 400 on the field at fault, never a 5xx
    refused = reply.get("field") in {"revenue", "domain"} or reply.get("rule") == "json"
    assert status in {202, 413} or (status == 400 and refused), reply
    query = {"d": domains, "u": "https://example.com/"}
    res = collect(http_event("GET", "/e.gif", headers=headers, query=query), Context())
    assert res["statusCode"] == 200, res


@pytest.fixture(scope="module")
def gateway(fuzz_env: Path) -> Iterator[TestClient]:
    """The local API Gateway stand-in in front of the real handlers, over ASGI (no network)."""
    with TestClient(LocalGateway(collect=collect, stats=stats)) as client:
        yield client


@settings(FUZZ, max_examples=400)
@given(
    route=s.mostly(
        st.sampled_from([("POST", "/api/event"), ("GET", "/e.gif")]),
        st.tuples(
            st.sampled_from(["GET", "POST", "PUT", "DELETE", "OPTIONS", "HEAD"]),
            st.sampled_from(["/api/event", "/e.gif", "/api/v1/stats/aggregate", "/api/x", "/x"]),
        ),
    ),
    query=s.query_params,
    headers=s.headers,
    body=s.bodies,
)
def test_the_local_gateway_never_answers_5xx(
    gateway: TestClient,
    route: tuple[str, str],
    query: dict[str, str],
    headers: dict[str, str],
    body: bytes,
) -> None:
    method, path = route
    # what an HTTP client can put on the wire: latin-1 header bytes, UTF-8 query text
    raw_headers = {k: v.encode("latin-1", "replace") for k, v in headers.items()}
    params = {
        k.encode("utf-8", "replace").decode(): v.encode("utf-8", "replace").decode()
        for k, v in query.items()
    }
    res = gateway.request(method, path, params=params, headers=raw_headers, content=body)
    assert res.status_code < 500, res.text
    event(f"{method} {path} {res.status_code}")
    if res.headers.get("content-type", "").startswith("image/gif") or method == "HEAD":
        return
    if res.status_code >= 400:
        assert isinstance(res.json(), dict), res.text

"""Beacons reach the collector through its Lambda function URL (behind CloudFront): the real
handler, in the template's environment, answers function-URL events (payload format 2.0, route
`$default`) and hands the events to the Firehose stand-in with the viewer's country and
address from CloudFront's headers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

import pytest

from tests.apigw import Context
from tests.aws_box.conftest import Box, aws_box
from tests.aws_box.stack import Stack
from tests.conftest import CHROME_UA
from tests.infra.conftest import Synth

pytestmark = pytest.mark.slow

AT = datetime(2026, 3, 9, 12, 0, tzinfo=UTC)
EDGE = "130.176.0.1"  # a CloudFront edge server: the connection's address behind CloudFront


def function_url_event(
    method: str,
    path: str,
    headers: dict[str, str],
    body: str | None = None,
    query: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An event as Lambda builds it for a function URL request (payload format 2.0)."""
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "&".join(f"{k}={v}" for k, v in (query or {}).items()),
        "headers": headers,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "abcdefghijklmnopqrstuvwxyz012345",
            "domainName": "abcdefghijklmnopqrstuvwxyz012345.lambda-url.us-east-1.on.aws",
            "domainPrefix": "abcdefghijklmnopqrstuvwxyz012345",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": EDGE,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": "id",
            "routeKey": "$default",
            "stage": "$default",
            "time": "09/Mar/2026:12:00:00 +0000",
            "timeEpoch": int(AT.timestamp() * 1000),
        },
        "isBase64Encoded": False,
    }
    if query:
        event["queryStringParameters"] = query
    if body is not None:
        event["body"] = body
    return event


@pytest.fixture
def box(synth: Synth, tmp_path: Path) -> Iterator[Box]:
    stack = Stack(synth.template)
    with aws_box(stack, tmp_path, env=stack.lambda_environment("beaconlake-collect")) as b:
        b.rotate_salts(datetime.combine(AT.date(), time(), UTC))
        b.frozen.at = AT
        b.clock.set(AT)
        yield b


def buffered_rows(box: Box) -> list[dict[str, Any]]:
    return [
        row for (kind, _), b in box.firehose.buffers.items() if kind == "data" for row in b.rows
    ]


def viewer(address: str, country: str) -> dict[str, str]:
    return {
        "user-agent": CHROME_UA,
        "cloudfront-viewer-address": f"{address}:443",
        "cloudfront-viewer-country": country,
    }


def test_post_and_pixel_through_the_function_url_reach_firehose(box: Box) -> None:
    from functions.collect.app import handler as collect

    page = {"n": "pageview", "u": "https://example.com/", "d": "example.com"}
    post = function_url_event(
        "POST",
        "/api/event",
        {**viewer("198.51.100.7", "DE"), "content-type": "text/plain"},
        body=json.dumps(page),
    )
    assert collect(post, Context())["statusCode"] == 202
    pixel = function_url_event(
        "GET",
        "/e.gif",
        viewer("198.51.100.7", "DE"),
        query={"d": "example.com", "u": "https://example.com/pricing"},
    )
    reply = collect(pixel, Context())
    assert reply["statusCode"] == 200 and reply["headers"]["Content-Type"] == "image/gif"
    other = function_url_event(
        "POST",
        "/api/event",
        {**viewer("203.0.113.9", "FR"), "content-type": "text/plain"},
        body=json.dumps(page),
    )
    assert collect(other, Context())["statusCode"] == 202
    rows = buffered_rows(box)
    assert [(r["pathname"], r["country"]) for r in rows] == [
        ("/", "DE"),
        ("/pricing", "DE"),
        ("/", "FR"),
    ]
    # the visitor is the viewer's address (CloudFront's header), not the edge's connection
    assert rows[0]["visitor_id"] == rows[1]["visitor_id"] != rows[2]["visitor_id"]


def test_only_the_two_beacon_routes_answer(box: Box) -> None:
    from functions.collect.app import handler as collect

    reply = collect(
        function_url_event("GET", "/api/v1/stats", viewer("198.51.100.7", "DE")), Context()
    )
    assert reply["statusCode"] == 404
    assert not buffered_rows(box)

"""AWS in a box: the synthesized template provisioned into moto, the Firehose and Athena
stand-ins hooked in, and the real collect and stats Lambda handlers called with API Gateway
events, in the template's Lambda environment."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest
from moto import mock_aws

from beaconlake import wiring
from beaconlake.keys import create_key
from beaconlake.model import RequestMeta
from tests.apigw import Context, http_event
from tests.aws_box.athena import AthenaBox, QueryRecord, install
from tests.aws_box.firehose import FirehoseBox, ManualClock
from tests.aws_box.stack import REGION, Stack
from tests.infra.conftest import synthesized


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Stack:
    return Stack(synthesized(tmp_path_factory).template)


class FrozenClock:
    """`datetime` for the collector's module: `now()` is the beacon's time, so a scenario
    with timestamps days apart goes through the real handler."""

    at: datetime

    @classmethod
    def install(cls, monkeypatch: pytest.MonkeyPatch) -> type[FrozenClock]:
        import beaconlake.ingest.http as collector_http
        import functions.rotate_salt.app as rotate_salt

        class Frozen(datetime):
            @classmethod
            def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
                return Frozen.at.astimezone(tz) if tz else Frozen.at

        Frozen.at = datetime.now().astimezone()
        monkeypatch.setattr(collector_http, "datetime", Frozen)
        monkeypatch.setattr(rotate_salt, "datetime", Frozen)
        monkeypatch.setattr(wiring, "datetime", Frozen)  # the daily job's run time
        return Frozen  # type: ignore[return-value]


@dataclass
class Box:
    stack: Stack
    firehose: FirehoseBox
    athena: AthenaBox
    clock: ManualClock
    frozen: Any
    env: dict[str, str]
    tokens: dict[str, str] = field(default_factory=dict)
    rotated: set[date] = field(default_factory=set)

    # ---- the collector ------------------------------------------------------------------------

    def beacon(self, data: dict[str, Any], meta: RequestMeta, at: datetime) -> dict[str, Any]:
        """One POST /api/event through the collect Lambda handler at time `at` (the time
        Firehose sees too)."""
        from functions.collect.app import handler as collect

        if at.date() not in self.rotated:
            self.rotate_salts(datetime.combine(at.date(), time(), UTC))
        self.frozen.at = at
        if at > self.clock():
            self.clock.set(at)
        headers = {
            "content-type": "text/plain",
            "user-agent": meta.user_agent,
            self.env["BEACONLAKE_CLIENT_IP_HEADER"]: f"{meta.ip}:443",
        }
        if meta.country_header:
            headers["cloudfront-viewer-country"] = meta.country_header
        event = http_event(
            "POST", "/api/event", body=json.dumps(data), headers=headers, source_ip="130.176.0.1"
        )
        return collect(event, Context())

    def rotate_salts(self, at: datetime) -> None:
        """The rotate_salt Lambda, as its daily schedule runs it at 00:00 UTC: the collector
        only reads salts, so a day's beacons need this first."""
        from functions.rotate_salt.app import handler as rotate

        self.frozen.at = at
        rotate({}, Context())
        self.rotated.add(at.date())

    # ---- the daily job ------------------------------------------------------------------------

    def run_daily_job(self, at: datetime) -> dict[str, Any]:
        """The rollups Lambda handler, as its hourly schedule runs it at `at`, in its own
        environment from the template (the stats function's is put back after)."""
        from functions.rollups.app import handler as rollups

        self.frozen.at = at
        job_env = self.stack.lambda_environment("beaconlake-rollups")
        with pytest.MonkeyPatch.context() as mp:
            for name, value in job_env.items():
                mp.setenv(name, value)
            wiring.reset()
            try:
                return rollups({}, Context())
            finally:
                wiring.reset()

    # ---- the stats API ------------------------------------------------------------------------

    def token(self, site: str = "example.com") -> str:
        if site not in self.tokens:
            self.tokens[site], _ = create_key(wiring.ports().keys, (site,), "aws-box")
        return self.tokens[site]

    def call(
        self,
        method: str,
        path: str,
        query: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
        site: str = "example.com",
    ) -> tuple[int, Any]:
        """A request to the stats Lambda handler (Mangum); (status, decoded body)."""
        from functions.stats.app import handler as stats

        headers = {"authorization": f"Bearer {self.token(site)}"}
        if body is not None:
            headers["content-type"] = "application/json"
        event = http_event(
            method, path, body=None if body is None else json.dumps(body), headers=headers
        )
        if query:
            event["rawQueryString"] = urlencode(query)
            event["queryStringParameters"] = query
        reply = stats(event, Context())
        raw = reply.get("body") or ""
        text = base64.b64decode(raw).decode() if reply.get("isBase64Encoded") else raw
        kind = {k.lower(): v for k, v in reply.get("headers", {}).items()}.get("content-type", "")
        return reply["statusCode"], json.loads(text) if kind.startswith(
            "application/json"
        ) else text

    def ok(self, method: str, path: str, **kw: Any) -> Any:
        status, answer = self.call(method, path, **kw)
        assert status == 200, (status, answer, self.failures())
        return answer

    def failures(self) -> list[tuple[str, str | None]]:
        return [(q.kind, q.reason) for q in self.athena.queries if q.state != "SUCCEEDED"]

    def queries_since(self, mark: int) -> list[QueryRecord]:
        return self.athena.queries[mark:]


def _patch_firehose(monkeypatch: pytest.MonkeyPatch, box: FirehoseBox) -> None:
    """Records for the template's stream go to the stand-in: moto's Firehose back end would
    write each batch as one raw object, and has no public hook for a destination (moto
    internals, for that reason)."""
    from moto.firehose.models import FirehoseBackend

    original = FirehoseBackend.put_record_batch

    def put_record_batch(self: Any, delivery_stream_name: str, records: list[Any]) -> Any:
        if delivery_stream_name != box.stream_name:
            return original(self, delivery_stream_name, records)
        data = [
            r["Data"] if isinstance(r["Data"], bytes) else base64.b64decode(r["Data"])
            for r in records
        ]
        return {"FailedPutCount": 0, "Encrypted": False, "RequestResponses": box.put(data)}

    monkeypatch.setattr(FirehoseBackend, "put_record_batch", put_record_batch)


@contextmanager
def aws_box(
    stack: Stack, cache_dir: Path, env: dict[str, str] | None = None, **athena: Any
) -> Iterator[Box]:
    """The box, for as long as the context lasts (module fixtures load data once)."""
    with pytest.MonkeyPatch.context() as mp, mock_aws():
        mp.setenv("AWS_DEFAULT_REGION", REGION)
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        lambda_env = stack.lambda_environment("beaconlake-stats")
        lambda_env.update(env or {})
        for name, value in lambda_env.items():
            mp.setenv(name, value)
        stack.provision()
        s3 = boto3.client("s3", region_name=REGION)
        glue = boto3.client("glue", region_name=REGION)
        stream, destination = stack.delivery_stream()
        clock = ManualClock(datetime(2020, 1, 1, tzinfo=UTC))  # beacons move it on
        firehose = FirehoseBox(stream, destination, s3, glue, clock)
        _patch_firehose(mp, firehose)
        workgroups = boto3.client("athena", region_name=REGION)

        def configuration(name: str) -> dict[str, Any] | None:
            return workgroups.get_work_group(WorkGroup=name)["WorkGroup"]["Configuration"]

        box = AthenaBox(s3, glue, configuration, cache_dir, **athena)
        install(mp, box)
        frozen = FrozenClock.install(mp)
        wiring.reset()
        try:
            yield Box(stack, firehose, box, clock, frozen, lambda_env)
        finally:
            wiring.reset()


@pytest.fixture
def box(stack: Stack, tmp_path: Path) -> Iterator[Box]:
    with aws_box(stack, tmp_path) as b:
        yield b

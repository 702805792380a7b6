"""E-mail reports and traffic-spike alerts over the local back end, sent to a real SMTP server
on loopback (aiosmtpd): the mail's figures are the /api/v2/query answers for the same days in
the site's time zone; both parts arrive; the HTML loads nothing remote; an alert fires once
above the threshold and not again within the hour; the settings API refuses bad values."""

from __future__ import annotations

import email
import re
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient

from beaconlake import cli, wiring
from beaconlake.handlers.stats import create_app
from beaconlake.ingest.service import collect
from beaconlake.keys import create_key
from beaconlake.model import RequestMeta
from beaconlake.ports import ALL_SCOPES
from beaconlake.reports.compose import period_days, query_bodies
from beaconlake.reports.job import ReportJob
from tests.conftest import CHROME_UA
from tests.integration.conftest import day_salt, dst_scenario, load

SITE = "example.com"
ZONE = "America/Los_Angeles"
MONDAY = datetime(2026, 3, 16, 15, 0, tzinfo=UTC)  # Monday 08:00 in Los Angeles
TO = "owner@example.org"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(email.message_from_bytes(envelope.content, policy=default))
        return "250 OK"


@pytest.fixture
def inbox(local_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    handler = Inbox()
    with socket.socket() as probe:  # a free port (aiosmtpd checks it is up by connecting)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("BEACONLAKE_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("BEACONLAKE_SMTP_PORT", str(port))
    monkeypatch.setenv("BEACONLAKE_SMTP_STARTTLS", "false")
    monkeypatch.setenv("BEACONLAKE_SMTP_FROM", "reports@beaconlake.test")
    wiring.reset()
    try:
        yield handler
    finally:
        controller.stop()


@pytest.fixture
def client(inbox: Inbox) -> Iterator[TestClient]:
    with TestClient(create_app()) as c:
        yield c


@pytest.fixture
def key() -> dict[str, str]:
    token, _ = create_key(wiring.ports().keys, ("*",), "test", ALL_SCOPES)
    return {"authorization": f"Bearer {token}"}


def job() -> ReportJob:
    built = wiring.report_job()
    assert built is not None
    return built


def parts(message: EmailMessage) -> tuple[str, str]:
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and html is not None, "both a plain-text and an HTML part"
    return text.get_content().replace("\r\n", "\n"), html.get_content()


def put_settings(client: TestClient, key: dict[str, str], **values: Any) -> Any:
    return client.put("/api/v1/reports", json={"site_id": SITE, **values}, headers=key)


def test_weekly_report_has_the_query_api_figures_in_the_site_zone(
    client: TestClient, key: dict[str, str], inbox: Inbox
) -> None:
    wiring.catalogue().update_site(SITE, timezone=ZONE)
    load(dst_scenario())  # 2026-03-07 to 03-10 UTC: the report's week and the one before it
    assert put_settings(client, key, recipients=[TO], weekly=True).status_code == 200

    assert job().scheduled(MONDAY - timedelta(hours=2)) == []  # 06:00 in Los Angeles
    assert inbox.messages == []
    assert job().scheduled(MONDAY) == [f"{SITE}/week"]  # 08:00 there
    assert job().scheduled(MONDAY + timedelta(hours=1)) == []  # once per week
    assert len(inbox.messages) == 1
    message = inbox.messages[0]
    assert inbox.envelopes[0] == ("reports@beaconlake.test", [TO])
    text, html = parts(message)
    assert "Weekly report for example.com: 09 Mar to 15 Mar 2026" in message["subject"]

    # the same bodies through the HTTP API, for the week in Los Angeles
    days = period_days("week", MONDAY.astimezone(ZoneInfo(ZONE)).date())
    bodies = query_bodies(SITE, days)
    answers = {
        name: client.post("/api/v2/query", json=body, headers=key).json()
        for name, body in bodies.items()
    }
    totals = answers["totals"]["results"][0]
    assert answers["totals"]["meta"]["timezone"] == ZONE
    assert answers["totals"]["query"]["date_range"] == [
        "2026-03-09T00:00:00",
        "2026-03-16T00:00:00",
    ]
    visitors, previous = totals["metrics"][0], totals["comparison"]["metrics"][0]
    assert visitors > 0 and previous > 0, "both weeks have traffic"
    for label, i in (("Visitors", 0), ("Visits", 1), ("Pageviews", 2)):
        now_, was = totals["metrics"][i], totals["comparison"]["metrics"][i]
        change = totals["comparison"]["change"][i]
        line = re.search(rf"^{label}\s+([\d,]+)\s+\(([^,]+), was ([\d,]+)\)$", text, re.M)
        assert line is not None, text
        assert line.group(1).replace(",", "") == str(now_)
        assert line.group(3).replace(",", "") == str(was)
        assert line.group(2) == f"{change:+g} %"
        assert (
            f'<td style="padding:4px 12px;border-bottom:1px solid #ddd;text-align:right">{now_:,}</td>'
            in html
        )
    for name, title in (("pages", "Top pages"), ("sources", "Top sources")):
        rows = answers[name]["results"]
        assert rows, name
        block = text.split(f"{title} (visitors)\n", 1)[1].split("\n\n", 1)[0]
        assert [ln.split(None, 1) for ln in block.splitlines()] == [
            [f"{r['metrics'][0]:,}", str(r["dimensions"][0])] for r in rows
        ]
        assert all(str(r["dimensions"][0]) in html for r in rows)
    # nothing in the mail loads from anywhere: no image, no remote source, no stylesheet
    assert "<img" not in html.lower() and "src=" not in html.lower()
    assert "url(" not in html.lower() and "<link" not in html.lower()
    assert not re.search(r"https?://", html)


def test_monthly_report_and_the_cli(client: TestClient, key: dict[str, str], inbox: Inbox) -> None:
    load(dst_scenario())
    assert cli.main(["report", "send", "--site", SITE, "--period", "month", "--to", TO]) == 0
    assert len(inbox.messages) == 1
    text, _ = parts(inbox.messages[0])
    # the last complete month before today (the CLI uses the clock): a report, even if empty
    assert "Monthly report for example.com" in inbox.messages[0]["subject"]
    assert "Visitors" in text
    # no recipients and none given: a clear error, no mail
    assert cli.main(["report", "send", "--site", SITE]) == 2
    assert cli.main(["report", "send", "--site", "nope.test", "--to", TO]) == 2
    assert len(inbox.messages) == 1


def beacons(count: int, at: datetime, first_ip: int = 1) -> None:
    p = wiring.ports()
    for i in range(count):
        meta = RequestMeta(ip=f"203.0.113.{first_ip + i}", user_agent=CHROME_UA)
        data = {"n": "pageview", "u": f"https://{SITE}/spike", "d": SITE}
        outcome = collect(data, meta, p.policy, day_salt, at)
        assert outcome.dropped is None, outcome
        p.sink.put(outcome.events)


def test_spike_alert_fires_once_an_hour_above_the_threshold(
    client: TestClient, key: dict[str, str], inbox: Inbox
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    assert put_settings(client, key, recipients=[TO], alert_threshold=3).status_code == 200
    beacons(3, now - timedelta(minutes=1))
    assert job().alerts(now) == [], "3 is not above a threshold of 3"
    beacons(2, now, first_ip=50)
    assert job().alerts(now) == [SITE]
    assert len(inbox.messages) == 1
    text, html = parts(inbox.messages[0])
    assert inbox.messages[0]["subject"] == "Traffic spike on example.com: 5 current visitors"
    assert "threshold of 3" in text and "<img" not in html
    beacons(6, now + timedelta(minutes=3), first_ip=100)
    assert job().alerts(now + timedelta(minutes=3)) == []  # within the hour
    later = now + timedelta(minutes=61)
    beacons(4, later, first_ip=150)
    assert job().alerts(later) == [SITE]
    assert len(inbox.messages) == 2


def test_settings_api_refuses_bad_values_with_a_4xx(
    client: TestClient, key: dict[str, str], inbox: Inbox
) -> None:
    bad = put_settings(client, key, recipients=["not an address"], weekly=True)
    assert bad.status_code == 400 and bad.json()["field"] == "recipients[0]", bad.text
    assert bad.json()["rule"] == "email"
    smuggled = put_settings(client, key, recipients=["a@b.test\r\nBcc: x@y.test"])
    assert smuggled.status_code == 400
    nobody = put_settings(client, key, recipients=[], monthly=True)
    assert nobody.status_code == 400 and nobody.json()["rule"] == "required"
    assert put_settings(client, key, recipients=[TO], alert_threshold=0).status_code == 422
    assert put_settings(client, key, recipients=[TO], extra=1).status_code == 422
    missing = client.put(
        "/api/v1/reports", json={"site_id": "nope.test", "recipients": [TO]}, headers=key
    )
    assert missing.status_code == 404
    good = put_settings(client, key, recipients=[TO, TO], monthly=True, alert_threshold=9)
    assert good.status_code == 200
    got = client.get("/api/v1/reports", params={"site_id": SITE}, headers=key).json()
    assert got == {
        "site_id": SITE,
        "recipients": [TO],
        "weekly": False,
        "monthly": True,
        "alert_threshold": 9,
    }
    token, _ = create_key(wiring.ports().keys, ("*",), "reader")  # stats:read:* only
    refused = client.put(
        "/api/v1/reports",
        json={"site_id": SITE, "recipients": [TO]},
        headers={"authorization": f"Bearer {token}"},
    )
    assert refused.status_code == 403


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key (the client trusts it through SSL_CERT_FILE)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_starttls_and_login(
    local_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ssl

    from aiosmtpd.smtp import AuthResult, LoginPassword

    from beaconlake.adapters.mail import SmtpMailer
    from beaconlake.ports import Mail, MailFailed

    cert, key = self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    logins: list[tuple[bytes, bytes]] = []

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        assert isinstance(data, LoginPassword)
        logins.append((data.login, data.password))
        return AuthResult(success=data.password == b"s3cret")

    inbox = Inbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=server_tls,
        require_starttls=True,
        authenticator=authenticate,
        auth_required=True,
    )
    controller.start()
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    mail = Mail("reports@beaconlake.test", (TO,), "Hello", "text", "<p>html</p>")
    try:
        SmtpMailer("127.0.0.1", port, "reports", "s3cret").send(mail)
        assert logins == [(b"reports", b"s3cret")] and len(inbox.messages) == 1
        with pytest.raises(MailFailed) as failed:
            SmtpMailer("127.0.0.1", port, "reports", "wrong", timeout_s=3).send(mail)
        assert "wrong" not in str(failed.value)
        with pytest.raises(MailFailed):  # the server insists on STARTTLS
            SmtpMailer("127.0.0.1", port, "reports", "s3cret", starttls=False).send(mail)
        assert len(inbox.messages) == 1
    finally:
        controller.stop()


def test_a_bad_smtp_port_is_one_sentence(local_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BEACONLAKE_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("BEACONLAKE_SMTP_PORT", "smtp")
    with pytest.raises(SystemExit, match="BEACONLAKE_SMTP_PORT must be a port number, not 'smtp'"):
        wiring.report_job()

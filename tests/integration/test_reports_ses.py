"""The reports' AWS path: SES v2 (moto) sends the report from the stack's `report_sender`
identity with a plain-text and an HTML part; an unverified sender is a MailFailed (the job
logs it and tries again next time); without a sender the function sends nothing."""

from __future__ import annotations

import email
from datetime import date
from email.message import EmailMessage
from email.policy import default
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from beaconlake import wiring
from beaconlake.adapters.mail import SesMailer
from beaconlake.config import Settings
from beaconlake.ports import MailFailed
from beaconlake.reports.compose import Figure, Report
from beaconlake.reports.render import report_mail
from functions.reports.app import handler
from tests.apigw import Context

SENDER = "reports@beaconlake.test"
REPORT = Report(
    "example.com",
    "Europe/Berlin",
    "week",
    date(2026, 3, 9),
    date(2026, 3, 15),
    date(2026, 3, 2),
    date(2026, 3, 8),
    (Figure("visitors", 120, 100, 20), Figure("visits", 150, 150, 0)),
    (("/pricing", 40), ("/<b>", 3)),
    (("Google", 30),),
)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, fake_aws_credentials: None) -> Any:
    monkeypatch.setenv("BEACONLAKE_BACKEND", "aws")
    monkeypatch.setenv("BEACONLAKE_REPORT_SENDER", SENDER)
    with mock_aws():
        client = boto3.client("sesv2", region_name="us-east-1")
        client.create_email_identity(EmailIdentity=SENDER)
        yield client


def sent() -> list[EmailMessage]:
    backend = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    return [email.message_from_string(m.raw_data, policy=default) for m in backend.sent_messages]


def test_ses_sends_both_parts_from_the_identity(aws: Any) -> None:
    built = wiring.build_mailer(Settings.from_env())
    assert built is not None
    mailer, sender = built
    assert isinstance(mailer, SesMailer) and sender == SENDER
    mailer.send(report_mail(REPORT, sender, ("owner@example.org",)))
    [message] = sent()
    assert message["from"] == SENDER and message["to"] == "owner@example.org"
    assert message["subject"] == "Weekly report for example.com: 09 Mar to 15 Mar 2026"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    assert "Visitors         120   (+20 %, was 100)" in text.get_content()
    assert "&lt;b&gt;" in html.get_content() and "<b>" not in html.get_content()
    assert "<img" not in html.get_content()


def test_an_unverified_sender_is_a_mail_failure(aws: Any) -> None:
    mailer = SesMailer()
    with pytest.raises(MailFailed, match="SES"):
        mailer.send(report_mail(REPORT, "someone@else.test", ("owner@example.org",)))
    assert sent() == []


def test_without_a_sender_the_function_sends_nothing(
    monkeypatch: pytest.MonkeyPatch, fake_aws_credentials: None
) -> None:
    monkeypatch.setenv("BEACONLAKE_BACKEND", "aws")
    monkeypatch.delenv("BEACONLAKE_REPORT_SENDER", raising=False)
    answer = handler({"kind": "alerts"}, Context())  # type: ignore[arg-type]
    assert answer == {"sent": [], "reason": "no report sender configured"}

"""The Mailer port's adapters: SMTP (smtplib, optional STARTTLS and log-in) locally, SES v2
on AWS. Both send one message with a plain-text and an HTML part."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from beaconlake.ports import Mail, MailFailed


def mime(mail: Mail) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = mail.subject
    message["From"] = mail.sender
    message["To"] = ", ".join(mail.recipients)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=mail.sender.rpartition("@")[2] or None)
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    return message


@dataclass(frozen=True)
class SmtpMailer:
    host: str
    port: int = 587
    user: str | None = None
    password: str | None = None
    starttls: bool = True
    timeout_s: float = 30.0

    def send(self, mail: Mail) -> None:
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.user:
                    smtp.login(self.user, self.password or "")
                smtp.send_message(mime(mail))
        except (OSError, smtplib.SMTPException) as exc:
            # the reason, never the password or the message
            raise MailFailed(f"SMTP {self.host}:{self.port}: {type(exc).__name__}") from None


class SesMailer:
    """SES v2 SendEmail from the verified identity `sender`: the same MIME message as SMTP
    (raw content), so both back ends send byte for byte the same parts."""

    def __init__(self, client: Any = None) -> None:
        if client is None:
            from beaconlake.adapters.aws import new_client

            client = new_client("sesv2")
        self.client = client

    def send(self, mail: Mail) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.send_email(
                FromEmailAddress=mail.sender,
                Destination={"ToAddresses": list(mail.recipients)},
                Content={"Raw": {"Data": mime(mail).as_bytes()}},
            )
        except (BotoCoreError, ClientError) as exc:
            raise MailFailed(f"SES: {type(exc).__name__}") from None

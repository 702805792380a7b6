"""Each site's report settings (recipients, weekly, monthly, the alert threshold) and what
the job has sent, kept in the generic record store (ports.RecordStore) under the kinds
"report" (id: the site), "report_sent" (id: "<site>#<period>") and "report_alert" (id: the
site)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from beaconlake.ports import RecordStore
from beaconlake.site_ports import CatalogueError

SETTINGS, SENT, ALERT = "report", "report_sent", "report_alert"
MAX_RECIPIENTS = 10
MAX_THRESHOLD = 10_000_000
# one address, no display name; no whitespace, so no header can be smuggled in
ADDRESS = re.compile(r"^[^@\s<>,;\"]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")


@dataclass(frozen=True)
class ReportSettings:
    """Who gets a site's mail, and which: the weekly and monthly summaries, and an alert
    when current visitors exceed `alert_threshold` (None: no alert)."""

    recipients: tuple[str, ...] = ()
    weekly: bool = False
    monthly: bool = False
    alert_threshold: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "recipients": list(self.recipients),
            "weekly": self.weekly,
            "monthly": self.monthly,
            "alert_threshold": self.alert_threshold,
        }


def check_address(value: str, field_name: str) -> str:
    if not isinstance(value, str) or not ADDRESS.match(value.strip()):
        raise CatalogueError(400, field_name, f"{field_name} is not an e-mail address", "email")
    return value.strip()


def checked(
    recipients: list[str] | tuple[str, ...],
    weekly: bool,
    monthly: bool,
    alert_threshold: int | None,
) -> ReportSettings:
    """Settings from untrusted values, or a CatalogueError (400) naming the field and rule."""
    if len(recipients) > MAX_RECIPIENTS:
        raise CatalogueError(
            400, "recipients", f"at most {MAX_RECIPIENTS} recipients per site", "max_items"
        )
    addresses = tuple(
        dict.fromkeys(check_address(r, f"recipients[{i}]") for i, r in enumerate(recipients))
    )
    if (weekly or monthly or alert_threshold is not None) and not addresses:
        raise CatalogueError(400, "recipients", "name at least one recipient", "required")
    if alert_threshold is not None and not 1 <= alert_threshold <= MAX_THRESHOLD:
        raise CatalogueError(
            400, "alert_threshold", f"a whole number from 1 to {MAX_THRESHOLD}", "range"
        )
    return ReportSettings(addresses, bool(weekly), bool(monthly), alert_threshold)


class ReportBook:
    """The settings and the job's memory, over a record store."""

    def __init__(self, store: RecordStore) -> None:
        self.store = store

    @staticmethod
    def _parse(record: dict[str, Any]) -> ReportSettings:
        threshold = record.get("alert_threshold")
        return ReportSettings(
            tuple(str(r) for r in record.get("recipients", ())),
            bool(record.get("weekly")),
            bool(record.get("monthly")),
            int(threshold) if threshold is not None else None,
        )

    def settings(self, site_id: str) -> ReportSettings:
        record = self.store.get(SETTINGS, site_id)
        return ReportSettings() if record is None else self._parse(record)

    def save(self, site_id: str, settings: ReportSettings) -> ReportSettings:
        self.store.put(SETTINGS, site_id, settings.as_dict(), None)
        return settings

    def configured(self) -> dict[str, ReportSettings]:
        return {site: self._parse(record) for site, record in self.store.list(SETTINGS)}

    def sent(self, site_id: str, period: str) -> str | None:
        """The first day (ISO) of the last period whose report was sent."""
        record = self.store.get(SENT, f"{site_id}#{period}")
        return str(record["first"]) if record else None

    def mark_sent(self, site_id: str, period: str, first: str) -> None:
        self.store.put(SENT, f"{site_id}#{period}", {"first": first}, None)

    def last_alert(self, site_id: str) -> int | None:
        record = self.store.get(ALERT, site_id)
        return int(record["at"]) if record else None

    def mark_alert(self, site_id: str, at: int, visitors: int) -> None:
        # kept two hours: long enough for the one-an-hour rule
        self.store.put(ALERT, site_id, {"at": at, "visitors": visitors}, at + 7200)

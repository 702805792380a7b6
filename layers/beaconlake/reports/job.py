"""The job that sends reports and alerts, written once over the ports: `beaconlake serve`
runs `tick` every minute; on AWS EventBridge calls `scheduled` every hour (a report goes out
at 07:00 in each site's time zone after its week or month has ended there) and `alerts` every
5 minutes; `beaconlake report send` calls `send`."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from aws_lambda_powertools import Logger

from beaconlake.model import Event
from beaconlake.ports import Mailer, MailFailed, QueryEngine, QueryFailed
from beaconlake.reports import compose as c
from beaconlake.reports.book import ReportBook, ReportSettings
from beaconlake.reports.render import alert_mail, report_mail
from beaconlake.site_ports import CatalogueError, SiteCatalogue
from beaconlake.stats.query import local_now

logger = Logger(service="beaconlake-reports")
ALERT_EVERY_S = 3600
SEND_HOUR = 7  # reports go out from this hour of the site's day on


def _nothing() -> Sequence[Event]:
    return ()


@dataclass
class ReportJob:
    engine: QueryEngine
    catalogue: SiteCatalogue
    book: ReportBook
    mailer: Mailer
    sender: str
    pending: Callable[[], Sequence[Event]] = field(default=_nothing)

    def send(self, site_id: str, period: str, now: datetime, to: tuple[str, ...] = ()) -> c.Report:
        """Compose the site's report of the last complete period and send it to `to` (or
        the site's recipients); a CatalogueError when there is no such site or nobody."""
        site = self.catalogue.site(site_id)
        if site is None:
            raise CatalogueError(404, "site", f"{site_id} is not a site here", "exists")
        if period not in c.PERIODS:
            raise CatalogueError(400, "period", "period must be week or month", "one_of")
        recipients = to or self.book.settings(site.domain).recipients
        if not recipients:
            raise CatalogueError(400, "recipients", "the site has no report recipients", "required")
        report = c.compose(self.engine, site, period, now)
        self.mailer.send(report_mail(report, self.sender, recipients))
        logger.info("report sent", extra={"site": site.domain, "period": period})
        return report

    def _wanted(self, settings: ReportSettings, period: str) -> bool:
        return settings.weekly if period == "week" else settings.monthly

    def scheduled(self, now: datetime) -> list[str]:
        """Send each report that is wanted and not sent yet for its last complete period, from
        07:00 in the site's time zone on (once per site and period, however often this runs);
        "site/period" of those sent."""
        sent: list[str] = []
        for site_id, settings in self.book.configured().items():
            site = self.catalogue.site(site_id)
            if site is None or not settings.recipients:
                continue
            for period in c.PERIODS:
                if not self._wanted(settings, period):
                    continue
                local = local_now(site.timezone, now)
                if local.hour < SEND_HOUR:  # sent from 07:00 in the site's zone
                    continue
                first = c.period_days(period, local.date())[0].isoformat()
                if self.book.sent(site_id, period) == first:
                    continue
                try:
                    self.send(site_id, period, now, settings.recipients)
                except MailFailed as exc:
                    logger.error("report not sent", extra={"site": site_id, "reason": str(exc)})
                    continue
                self.book.mark_sent(site_id, period, first)
                sent.append(f"{site_id}/{period}")
        return sent

    def alerts(self, now: datetime) -> list[str]:
        """Alert each site whose current visitors exceed its threshold, at most once an
        hour; the sites alerted."""
        alerted: list[str] = []
        at = int(now.timestamp())
        for site_id, settings in self.book.configured().items():
            site = self.catalogue.site(site_id)
            threshold = settings.alert_threshold
            if site is None or threshold is None or not settings.recipients:
                continue
            last = self.book.last_alert(site_id)
            if last is not None and at - last < ALERT_EVERY_S:
                continue
            visitors = c.current_visitors(self.engine, site, now, self.pending())
            if visitors <= threshold:
                continue
            mail = alert_mail(site_id, visitors, threshold, now, self.sender, settings.recipients)
            try:
                self.mailer.send(mail)
            except MailFailed as exc:
                logger.error("alert not sent", extra={"site": site_id, "reason": str(exc)})
                continue
            self.book.mark_alert(site_id, at, visitors)
            logger.info("alert sent", extra={"site": site_id, "visitors": visitors})
            alerted.append(site_id)
        return alerted

    def tick(self, now: datetime) -> None:
        """One minute of the local server's job: alerts, then any report due."""
        self.alerts(now)
        self.scheduled(now)


def keep_sending(
    job: ReportJob, stop: threading.Event, every_s: float, clock: Callable[[], datetime]
) -> threading.Thread:
    """`beaconlake serve`'s daemon thread: `job.tick` every `every_s` until `stop` is set; a
    failed query is logged and tried again at the next tick."""

    def run() -> None:
        while not stop.wait(every_s):
            try:
                job.tick(clock())
            except (QueryFailed, OSError) as exc:
                logger.error("report job failed; retrying", extra={"reason": type(exc).__name__})

    thread = threading.Thread(target=run, name="reports", daemon=True)
    thread.start()
    return thread

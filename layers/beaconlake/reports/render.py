"""A report or an alert as a Mail: plain text and HTML with the standard library only. The
HTML has inline styles and no image, link to a remote resource or tracking pixel."""

from __future__ import annotations

from datetime import datetime
from html import escape

from beaconlake.ports import Mail
from beaconlake.reports.compose import Report

LABELS = {"visitors": "Visitors", "visits": "Visits", "pageviews": "Pageviews"}
TITLES = {"week": "Weekly", "month": "Monthly"}
CELL = 'style="padding:4px 12px;border-bottom:1px solid #ddd;text-align:{}"'


def change_text(change: float | int | None) -> str:
    if change is None:
        return "new"
    return f"{change:+g} %"


def subject(report: Report) -> str:
    return (
        f"{TITLES[report.period]} report for {report.site_id}: "
        f"{report.first:%d %b} to {report.last:%d %b %Y}"
    )


def text_body(report: Report) -> str:
    lines = [
        subject(report),
        f"Days in {report.timezone}; compared with {report.previous_first} to "
        f"{report.previous_last}.",
        "",
    ]
    for f in report.figures:
        lines.append(
            f"{LABELS[f.metric]:<10} {f.current:>9,}   "
            f"({change_text(f.change)}, was {f.previous:,})"
        )
    for title, rows in (("Top pages", report.top_pages), ("Top sources", report.top_sources)):
        lines += ["", f"{title} (visitors)"]
        lines += [f"  {n:>7,}  {name}" for name, n in rows] or ["  none"]
    lines += ["", "Sent by Beaconlake to the report recipients of this site (PUT /api/v1/reports)."]
    return "\n".join(lines) + "\n"


def _table(title: str, rows: list[tuple[str, str, str]]) -> str:
    head = "".join(
        f"<th {CELL.format('right' if i else 'left')}>{escape(h)}</th>"
        for i, h in enumerate(rows[0])
    )
    body = "".join(
        "<tr>"
        + "".join(
            f"<td {CELL.format('right' if i else 'left')}>{escape(cell)}</td>"
            for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows[1:]
    )
    return (
        f'<h2 style="font-size:16px;margin:20px 0 6px">{escape(title)}</h2>'
        f'<table style="border-collapse:collapse"><tr>{head}</tr>{body}</table>'
    )


def html_body(report: Report) -> str:
    figures = [("", "This period", "Change")] + [
        (LABELS[f.metric], f"{f.current:,}", f"{change_text(f.change)} (was {f.previous:,})")
        for f in report.figures
    ]
    parts = [_table("Summary", figures)]
    for title, rows in (("Top pages", report.top_pages), ("Top sources", report.top_sources)):
        parts.append(_table(title, [("", "Visitors", "")] + [(n, f"{v:,}", "") for n, v in rows]))
    return (
        '<!doctype html><html><body style="font-family:sans-serif;color:#222">'
        f'<h1 style="font-size:20px">{escape(subject(report))}</h1>'
        f"<p>Days in {escape(report.timezone)}; compared with "
        f"{report.previous_first} to {report.previous_last}.</p>"
        + "".join(parts)
        + '<p style="color:#666;font-size:12px">Sent by Beaconlake to the report recipients of this site'
        " (PUT /api/v1/reports).</p></body></html>"
    )


def report_mail(report: Report, sender: str, recipients: tuple[str, ...]) -> Mail:
    return Mail(sender, recipients, subject(report), text_body(report), html_body(report))


def alert_mail(
    site_id: str, visitors: int, threshold: int, at: datetime, sender: str, to: tuple[str, ...]
) -> Mail:
    title = f"Traffic spike on {site_id}: {visitors} current visitors"
    text = (
        f"{title}\n\n{visitors} visitors in the last 5 minutes, above your threshold of "
        f"{threshold} ({at:%Y-%m-%d %H:%M} UTC).\nAt most one such alert is sent per hour.\n"
    )
    html = (
        '<!doctype html><html><body style="font-family:sans-serif;color:#222">'
        f'<h1 style="font-size:20px">{escape(title)}</h1><p>{visitors} visitors in the last 5 '
        f"minutes, above your threshold of {threshold} ({at:%Y-%m-%d %H:%M} UTC).</p>"
        "<p>At most one such alert is sent per hour.</p></body></html>"
    )
    return Mail(sender, to, title, text, html)
